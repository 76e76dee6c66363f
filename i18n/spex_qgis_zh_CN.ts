<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
  <context>
    <name>SpexBatchAlgorithm</name>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="99" />
      <source>Extract land cover from a folder of rasters</source>
      <translation>从栅格文件夹批量提取地物</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="103" />
      <source>Land cover extraction</source>
      <translation>地物提取</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="119" />
      <source>Runs the prompt on every raster of the input folder whose name matches the pattern, in parallel on local dask workers, and merges the results into one GeoPackage layer whose 'source' field names each feature's raster. One GeoPackage per raster and a manifest are written to the output folder: running again skips the rasters already done and retries the failed ones; a raster that fails never stops the others. Needs the Python packages dask (distributed) and rich.</source>
      <translation>对输入文件夹中文件名匹配模式的每个栅格执行提示词提取，在本地 dask 工作进程上并行运行，并将结果合并为一个 GeoPackage 图层，其 'source' 字段记录每个要素来自哪个栅格。输出文件夹中为每个栅格写入一个 GeoPackage 和一个清单文件：再次运行时跳过已完成的栅格并重试失败的栅格；单个栅格失败不会中断其他栅格。需要 Python 包 dask（distributed）和 rich。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="132" />
      <source>Folder of rasters</source>
      <translation>栅格文件夹</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="137" />
      <source>Prompt</source>
      <translation>提示词</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="137" />
      <source>extract the water bodies</source>
      <translation>提取水体</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="143" />
      <source>Engine</source>
      <translation>引擎</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="151" />
      <source>File name patterns (separated by ;)</source>
      <translation>文件名模式（以 ; 分隔）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="155" />
      <source>SPEX model folder (engine spex)</source>
      <translation>SPEX 模型文件夹（spex 引擎）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="161" />
      <source>Minimum polygon area (m²)</source>
      <translation>最小多边形面积（平方米）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="168" />
      <source>Parallel workers (0: one per CPU core)</source>
      <translation>并行工作线程数（0：每个 CPU 核心一个）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="179" />
      <source>Output folder (one file per raster)</source>
      <translation>输出文件夹（每个栅格一个文件）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="184" />
      <source>Merged polygons</source>
      <translation>合并后的多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="187" />
      <source>Rasters done</source>
      <translation>已完成的栅格数</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="188" />
      <source>Rasters failed</source>
      <translation>失败的栅格数</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="189" />
      <source>Manifest</source>
      <translation>清单文件</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="199" />
      <source>PROMPT: the prompt is empty: type what to extract, e.g. 'extract the water bodies'.</source>
      <translation>PROMPT：提示词为空：请输入要提取的内容，例如“提取水体”。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="210" />
      <source>OUTPUT: the merged layer is a GeoPackage: choose a .gpkg file.</source>
      <translation>OUTPUT：合并图层为 GeoPackage 格式：请选择 .gpkg 文件。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="246" />
      <source>Cancelled: the rasters finished so far are kept; run again to resume.</source>
      <translation>已取消：已完成的栅格结果会保留；再次运行即可继续。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="254" />
      <source>No raster could be processed ({failed} failed): see the log above.</source>
      <translation>没有栅格处理成功（{failed} 个失败）：请查看上面的日志。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="265" />
      <source>SPEX batch</source>
      <translation>SPEX 批量提取</translation>
    </message>
  </context>
  <context>
    <name>SpexDeps</name>
    <message>
      <location filename="../spex_qgis/deps.py" line="319" />
      <source>Install SPEX engine dependencies</source>
      <translation>安装 SPEX 引擎依赖</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="335" />
      <source>The packages go to {folder} (only used by this QGIS profile). Command:</source>
      <translation>软件包将安装到 {folder}（仅供当前 QGIS 配置文件使用）。命令：</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="338" />
      <source>An NVIDIA GPU was detected: the CUDA builds are installed.</source>
      <translation>检测到 NVIDIA GPU：将安装 CUDA 版本。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="349" />
      <source>pip output appears here once you click Install.</source>
      <translation>点击“安装”后，pip 的输出将显示在这里。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="351" />
      <source>Copy command</source>
      <translation>复制命令</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="352" />
      <source>Install</source>
      <translation>安装</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="353" />
      <source>Stop</source>
      <translation>停止</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="396" />
      <source>Could not start {python}.</source>
      <translation>无法启动 {python}。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="409" />
      <source>Done. Restart QGIS if the SPEX engine was used before.</source>
      <translation>完成。如果之前已使用过 SPEX 引擎，请重启 QGIS。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="411" />
      <source>pip failed (exit status {code}).</source>
      <translation>pip 执行失败（退出状态 {code}）。</translation>
    </message>
  </context>
  <context>
    <name>SpexDockWidget</name>
    <message>
      <location filename="../spex_qgis/dock.py" line="109" />
      <source>SPEX — prompt extraction</source>
      <translation>SPEX — 提示词提取</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="151" />
      <source>A multispectral raster (3 or more bands) read from a file</source>
      <translation>从文件读取的多光谱栅格（3 个或更多波段）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="152" />
      <source>Raster</source>
      <translation>栅格</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="154" />
      <source>Sensor preset that decides which band is which</source>
      <translation>决定各波段含义的传感器预设</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="155" />
      <source>Sensor</source>
      <translation>传感器</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="159" />
      <source>Bands</source>
      <translation>波段</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="163" />
      <source>Role</source>
      <translation>角色</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="163" />
      <source>Band</source>
      <translation>波段</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="169" />
      <source>Reset to detected</source>
      <translation>恢复为自动检测结果</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="173" />
      <source>Band mapping</source>
      <translation>波段映射</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="175" />
      <source>Input</source>
      <translation>输入</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="181" />
      <source>e.g. extract the water bodies / 提取水体</source>
      <translation>例如：提取水体 / extract the water bodies</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="186" />
      <source>Prompt</source>
      <translation>提示词</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="191" />
      <source>Whole layer</source>
      <translation>整个图层</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="192" />
      <source>Current map extent</source>
      <translation>当前地图范围</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="193" />
      <source>Draw a rectangle</source>
      <translation>绘制矩形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="194" />
      <source>Draw a polygon</source>
      <translation>绘制多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="195" />
      <source>Selected features of a layer</source>
      <translation>图层中的选中要素</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="208" />
      <source>Draw</source>
      <translation>绘制</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="211" />
      <source>Draw the area on the map</source>
      <translation>在地图上绘制区域</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="214" />
      <source>Clear the drawn area</source>
      <translation>清除绘制的区域</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="228" />
      <source>Area of interest</source>
      <translation>感兴趣区域</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="233" />
      <source>Spectral indices (no model)</source>
      <translation>光谱指数（无需模型）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="235" />
      <source>SPEX vision-language model</source>
      <translation>SPEX 视觉-语言模型</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="238" />
      <source>SPEX model folder</source>
      <translation>SPEX 模型文件夹</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="247" />
      <source>Auto (fp32 on CPU, bf16/fp16 on GPU)</source>
      <translation>自动（CPU 上为 fp32，GPU 上为 bf16/fp16）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="248" />
      <source>fp32 — exact</source>
      <translation>fp32 — 精确</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="249" />
      <source>int8 — faster on CPU, less exact</source>
      <translation>int8 — CPU 上更快，精度略低</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="250" />
      <source>bf16 — GPU</source>
      <translation>bf16 — GPU</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="251" />
      <source>fp16 — GPU</source>
      <translation>fp16 — GPU</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="257" />
      <source>Numeric precision of the SPEX model. Auto: exact fp32 on the CPU, bf16/fp16 on a GPU. int8 (CPU only) is about twice as fast but less exact; fp16 and bf16 are for GPUs.</source>
      <translation>SPEX 模型的数值精度。自动：CPU 上使用精确的 fp32，GPU 上使用 bf16/fp16。int8（仅限 CPU）速度约快一倍，但精度略低；fp16 和 bf16 适用于 GPU。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="265" />
      <source>Install dependencies…</source>
      <translation>安装依赖…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="269" />
      <location filename="../spex_qgis/dock.py" line="275" />
      <source>Engine</source>
      <translation>引擎</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="270" />
      <source>Model folder</source>
      <translation>模型文件夹</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="271" />
      <source>Device</source>
      <translation>设备</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="272" />
      <source>Precision</source>
      <translation>精度</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="279" />
      <source>Temporary layer</source>
      <translation>临时图层</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="280" />
      <source>Save to file</source>
      <translation>保存到文件</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="289" />
      <source>GeoPackage (*.gpkg);;ESRI Shapefile (*.shp);;GeoJSON (*.geojson)</source>
      <translation>GeoPackage 文件 (*.gpkg);;ESRI Shapefile 文件 (*.shp);;GeoJSON 文件 (*.geojson)</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="291" />
      <source>Save the extracted polygons</source>
      <translation>保存提取的多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="297" />
      <source>Output</source>
      <translation>输出</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="300" />
      <source>Run</source>
      <translation>运行</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="303" />
      <source>Cancel</source>
      <translation>取消</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="323" />
      <source>The explanation of the last result appears here.</source>
      <translation>最近一次结果的解释将显示在这里。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="324" />
      <source>Export…</source>
      <translation>导出…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="326" />
      <source>Save the result as a Shapefile, GeoPackage or GeoJSON (run an extraction first)</source>
      <translation>将结果保存为 Shapefile、GeoPackage 或 GeoJSON（请先运行一次提取）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="332" />
      <source>Explanation</source>
      <translation>解释</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="433" />
      <source>GDAL cannot open this raster</source>
      <translation>GDAL 无法打开此栅格</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="455" />
      <source>Auto-detect</source>
      <translation>自动检测</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="493" />
      <source>— not set —</source>
      <translation>— 未设置 —</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="496" />
      <source>Band {}</source>
      <translation>波段 {}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="541" />
      <source>Pick a raster with 3 or more bands.</source>
      <translation>请选择包含 3 个或更多波段的栅格。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="544" />
      <source>unknown sensor</source>
      <translation>未知传感器</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="545" />
      <source>none detected</source>
      <translation>未检测到</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="548" />
      <source>bands</source>
      <translation>个波段</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="604" />
      <source>Drag a rectangle on the map (Esc cancels).</source>
      <translation>在地图上拖出一个矩形（按 Esc 取消）。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="606" />
      <source>Click the vertices, right-click to finish (Backspace undoes, Esc cancels).</source>
      <translation>依次点击顶点，右键结束（Backspace 撤销，Esc 取消）。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="670" />
      <source>The whole raster is processed.</source>
      <translation>将处理整个栅格。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="673" />
      <source>Select polygons in this layer with the Select tool.</source>
      <translation>请用选择工具在此图层中选择多边形。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="674" />
      <source>Click Draw, then draw on the map.</source>
      <translation>点击“绘制”，然后在地图上绘制。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="676" />
      <source>Area: {} km²</source>
      <translation>面积：{} 平方千米</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="707" />
      <source>SPEX engine unavailable: {}</source>
      <translation>SPEX 引擎不可用：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="709" />
      <source>Pick the SPEX model folder (config.json + *.safetensors).</source>
      <translation>请选择 SPEX 模型文件夹（包含 config.json 和 *.safetensors）。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="711" />
      <source>No config.json in this folder: pick the SPEX checkpoint folder.</source>
      <translation>此文件夹中没有 config.json：请选择 SPEX 检查点文件夹。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="715" />
      <source>SPEX model ready.</source>
      <translation>SPEX 模型已就绪。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="717" />
      <source>Spectral indices: fast, no model needed.</source>
      <translation>光谱指数：速度快，无需模型。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="731" />
      <source>Start the extraction in the background</source>
      <translation>在后台开始提取</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="754" />
      <source>Dependency installer unavailable: {}</source>
      <translation>依赖安装程序不可用：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="789" />
      <source>Replace file?</source>
      <translation>替换文件？</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="790" />
      <source>'{}' already exists. Replace it?</source>
      <translation>“{}”已存在。要替换它吗？</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="809" />
      <source>Not run: the output file exists.</source>
      <translation>未运行：输出文件已存在。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="825" />
      <source>Running: {}</source>
      <translation>正在运行：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="836" />
      <source>Cancelling…</source>
      <translation>正在取消…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="862" />
      <source>{} polygons, {} in {:.1f} s</source>
      <translation>{} 个多边形，{}，用时 {:.1f} 秒</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="868" />
      <source>Added '{}' with {} polygons</source>
      <translation>已添加“{}”，共 {} 个多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="883" />
      <source>Failed.</source>
      <translation>失败。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="889" />
      <source>Cancelled: nothing was written.</source>
      <translation>已取消：未写入任何内容。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="890" />
      <source>Extraction cancelled</source>
      <translation>提取已取消</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="900" />
      <source>water</source>
      <translation>水体</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="901" />
      <source>vegetation</source>
      <translation>植被</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="902" />
      <source>buildings</source>
      <translation>建筑物</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="903" />
      <source>bare soil</source>
      <translation>裸土</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="904" />
      <source>clouds</source>
      <translation>云</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="905" />
      <source>snow</source>
      <translation>积雪</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="910" />
      <source>{cls}: {n} polygons, {area} · engine {engine} · {secs:.1f} s</source>
      <translation>{cls}：{n} 个多边形，{area} · 引擎 {engine} · {secs:.1f} 秒</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="921" />
      <source>Notes</source>
      <translation>说明</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="942" />
      <source>Save '{}' as a Shapefile, GeoPackage or GeoJSON</source>
      <translation>将“{}”保存为 Shapefile、GeoPackage 或 GeoJSON</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="948" />
      <source>ESRI Shapefile (*.shp)</source>
      <translation>ESRI Shapefile 文件 (*.shp)</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="949" />
      <source>GeoPackage (*.gpkg)</source>
      <translation>GeoPackage 文件 (*.gpkg)</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="950" />
      <source>GeoJSON (*.geojson)</source>
      <translation>GeoJSON 文件 (*.geojson)</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="957" />
      <source>Export the SPEX result</source>
      <translation>导出 SPEX 结果</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="982" />
      <source>No result to export: run an extraction first, or select a SPEX result layer.</source>
      <translation>没有可导出的结果：请先运行一次提取，或选择一个 SPEX 结果图层。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="990" />
      <source>Not exported: the file exists.</source>
      <translation>未导出：文件已存在。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="1004" />
      <source>Exporting '{}'…</source>
      <translation>正在导出“{}”…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="1026" />
      <source>Exported {} polygons to {}</source>
      <translation>已将 {} 个多边形导出到 {}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="1035" />
      <source>Export failed.</source>
      <translation>导出失败。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="1041" />
      <source>Export cancelled: nothing was written.</source>
      <translation>导出已取消：未写入任何文件。</translation>
    </message>
  </context>
  <context>
    <name>SpexExtractAlgorithm</name>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="94" />
      <source>Extract land cover from a prompt</source>
      <translation>根据提示词提取地物</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="98" />
      <source>Land cover extraction</source>
      <translation>地物提取</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="130" />
      <source>Extracts the land-cover class named in the prompt (for example "extract the water bodies" or "提取水体") from a multispectral raster (Sentinel-2, Landsat 8/9, 4-band RGBN aerial) and writes its polygons. Every feature carries an explanation of why it was extracted.

Engine "spectral" uses spectral indices and needs no model. Engine "spex" runs the SPEX vision-language model from the model folder (or the folder chosen in the SPEX panel) and needs the optional packages (Raster &gt; SPEX &gt; Install SPEX engine dependencies).

Limit the work with an extent and/or a polygon layer (both: their intersection). Band roles are detected from the sensor and band descriptions; override them with e.g. "red=3,nir=4". Threshold overrides the primary index threshold of the class. Model precision (engine spex): auto is exact fp32 on the CPU and bf16/fp16 on a GPU; int8 is about twice as fast on the CPU but less exact.</source>
      <translation>从多光谱栅格（Sentinel-2、Landsat 8/9、4 波段 RGBN 航空影像）中提取提示词所指的地物类别（例如“提取水体”或 "extract the water bodies"），并输出其多边形。每个要素都附带说明其被提取原因的解释。

“spectral”引擎使用光谱指数，无需模型。“spex”引擎运行模型文件夹（或 SPEX 面板中所选文件夹）中的 SPEX 视觉-语言模型，需要安装可选软件包（栅格 &gt; SPEX &gt; 安装 SPEX 引擎依赖）。

可以用范围和/或多边形图层限制处理区域（两者都给出时取其交集）。波段角色根据传感器和波段描述自动检测；可以用例如 "red=3,nir=4" 覆盖。阈值参数会覆盖该类别主要指数的阈值。模型精度（spex 引擎）：auto 在 CPU 上为精确的 fp32，在 GPU 上为 bf16/fp16；int8 在 CPU 上速度约快一倍，但精度略低。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="146" />
      <source>Multispectral raster</source>
      <translation>多光谱栅格</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="149" />
      <source>Prompt</source>
      <translation>提示词</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="149" />
      <source>extract the water bodies</source>
      <translation>提取水体</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="153" />
      <source>Extent (optional)</source>
      <translation>范围（可选）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="158" />
      <source>Area of interest polygons (optional)</source>
      <translation>感兴趣区域多边形（可选）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="166" />
      <source>Engine</source>
      <translation>引擎</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="175" />
      <source>SPEX model folder (engine spex)</source>
      <translation>SPEX 模型文件夹（spex 引擎）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="183" />
      <source>Device (engine spex)</source>
      <translation>设备（spex 引擎）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="192" />
      <source>Model precision (engine spex; int8: faster on CPU, less exact)</source>
      <translation>模型精度（spex 引擎；int8：CPU 上更快，精度略低）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="199" />
      <source>Sensor</source>
      <translation>传感器</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="205" />
      <source>Band mapping (e.g. red=3,nir=4)</source>
      <translation>波段映射（例如 red=3,nir=4）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="209" />
      <source>Index threshold (empty: class default)</source>
      <translation>指数阈值（留空：使用类别默认值）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="220" />
      <source>Extracted polygons</source>
      <translation>提取的多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="223" />
      <source>Extracted class</source>
      <translation>提取的类别</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="224" />
      <source>Number of polygons</source>
      <translation>多边形数量</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="225" />
      <source>Total area (m²)</source>
      <translation>总面积（平方米）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="226" />
      <source>Explanation</source>
      <translation>解释</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="234" />
      <source>INPUT: the raster could not be opened: choose a readable raster file.</source>
      <translation>INPUT：无法打开该栅格：请选择可读取的栅格文件。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="238" />
      <source>INPUT: '{name}' is not a file raster (provider {provider}): save it as a GeoTIFF (Export &gt; Save As...) and use that file.</source>
      <translation>INPUT：“{name}”不是文件栅格（数据提供者 {provider}）：请将其另存为 GeoTIFF（导出 &gt; 另存为...）并使用该文件。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="268" />
      <source>AOI: the area-of-interest layer has no polygon (empty selection?): select polygons or untick 'Selected features only'.</source>
      <translation>AOI：感兴趣区域图层中没有多边形（选择集为空？）：请选择多边形，或取消勾选“仅选中要素”。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="277" />
      <source>AOI: the polygons do not overlap the extent: widen the extent or clear it.</source>
      <translation>AOI：多边形与范围不重叠：请扩大范围或清除范围。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="308" />
      <source>PROMPT: the prompt is empty: type what to extract, e.g. 'extract the water bodies'.</source>
      <translation>PROMPT：提示词为空：请输入要提取的内容，例如“提取水体”。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="361" />
      <source>Cancelled: nothing was written.</source>
      <translation>已取消：未写入任何内容。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="370" />
      <source>SPEX {target}</source>
      <translation>SPEX {target}</translation>
    </message>
  </context>
  <context>
    <name>SpexLayers</name>
    <message>
      <location filename="../spex_qgis/layers.py" line="98" />
      <source>The extraction wrote no file: run it again with an output file or a temporary layer.</source>
      <translation>提取没有写出任何文件：请选择输出文件或临时图层后重新运行。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="104" />
      <source>Cannot open the result '{}': check that the file still exists and is readable, then run again.</source>
      <translation>无法打开结果“{}”：请确认该文件仍然存在且可读，然后重新运行。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="159" />
      <source>Unsupported export format '{}': use .gpkg, .shp or .geojson.</source>
      <translation>不支持的导出格式“{}”：请使用 .gpkg、.shp 或 .geojson。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="164" />
      <source>Export folder '{}' does not exist: create it or pick another file.</source>
      <translation>导出文件夹“{}”不存在：请先创建该文件夹或选择其他文件。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="167" />
      <source>'{}' is a folder: give a file name such as {}.</source>
      <translation>“{}”是一个文件夹：请给出文件名，例如 {}。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="170" />
      <source>'{}' is the file this layer is read from: choose another name for the export.</source>
      <translation>“{}”正是该图层读取的文件：请为导出选择其他名称。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="175" />
      <source>'{}' already exists: choose another name or allow overwriting.</source>
      <translation>“{}”已存在：请选择其他名称或允许覆盖。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="229" />
      <source>Export to '{}' failed ({}): check the folder is writable.</source>
      <translation>导出到“{}”失败（{}）：请检查该文件夹是否可写。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="323" />
      <source>Shapefile text fields hold at most {} bytes: '{}' is split over {} and written in full to {}.</source>
      <translation>Shapefile 文本字段最多容纳 {} 字节：“{}”已拆分到字段 {}，完整内容写入 {}。</translation>
    </message>
  </context>
  <context>
    <name>SpexPlugin</name>
    <message>
      <location filename="../spex_qgis/plugin.py" line="107" />
      <source>SPEX extraction panel</source>
      <translation>SPEX 提取面板</translation>
    </message>
    <message>
      <location filename="../spex_qgis/plugin.py" line="110" />
      <source>Show or hide the SPEX prompt-extraction panel</source>
      <translation>显示或隐藏 SPEX 提示词提取面板</translation>
    </message>
    <message>
      <location filename="../spex_qgis/plugin.py" line="114" />
      <source>Install SPEX engine dependencies…</source>
      <translation>安装 SPEX 引擎依赖…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/plugin.py" line="121" />
      <source>SPEX</source>
      <translation>SPEX</translation>
    </message>
  </context>
  <context>
    <name>SpexProvider</name>
    <message>
      <location filename="../spex_qgis/processing/provider.py" line="21" />
      <source>SPEX</source>
      <translation>SPEX</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/provider.py" line="25" />
      <source>SPEX prompt-driven land-cover extraction</source>
      <translation>SPEX 提示词驱动的地物提取</translation>
    </message>
  </context>
  <context>
    <name>SpexTask</name>
    <message>
      <location filename="../spex_qgis/task.py" line="93" />
      <source>Unexpected error ({}: {}); details in the SPEX log panel</source>
      <translation>意外错误（{}：{}）；详情见 SPEX 日志面板</translation>
    </message>
    <message>
      <location filename="../spex_qgis/task.py" line="112" />
      <source>The extraction stopped without a result; details in the SPEX log panel</source>
      <translation>提取未产生结果即已停止；详情见 SPEX 日志面板</translation>
    </message>
    <message>
      <location filename="../spex_qgis/task.py" line="160" />
      <source>Cannot read the layer '{}' to export it: check that its file still exists.</source>
      <translation>无法读取要导出的图层“{}”：请确认其文件仍然存在。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/task.py" line="180" />
      <source>Export failed ({}: {}); details in the SPEX log panel</source>
      <translation>导出失败（{}：{}）；详情见 SPEX 日志面板</translation>
    </message>
  </context>
</TS>
