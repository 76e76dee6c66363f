<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
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
      <location filename="../spex_qgis/dock.py" line="120" />
      <source>SPEX — prompt extraction</source>
      <translation>SPEX — 提示词提取</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="162" />
      <source>A multispectral raster (3 or more bands) read from a file</source>
      <translation>从文件读取的多光谱栅格（3 个或更多波段）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="163" />
      <source>Raster</source>
      <translation>栅格</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="165" />
      <source>Sensor preset that decides which band is which</source>
      <translation>决定各波段含义的传感器预设</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="166" />
      <source>Sensor</source>
      <translation>传感器</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="170" />
      <source>Bands</source>
      <translation>波段</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="174" />
      <source>Role</source>
      <translation>角色</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="174" />
      <source>Band</source>
      <translation>波段</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="180" />
      <source>Reset to detected</source>
      <translation>恢复为自动检测结果</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="184" />
      <source>Band mapping</source>
      <translation>波段映射</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="186" />
      <source>Input</source>
      <translation>输入</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="192" />
      <source>e.g. extract the water bodies / 提取水体</source>
      <translation>例如：提取水体 / extract the water bodies</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="197" />
      <source>Prompt</source>
      <translation>提示词</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="202" />
      <source>Whole layer</source>
      <translation>整个图层</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="203" />
      <source>Current map extent</source>
      <translation>当前地图范围</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="204" />
      <source>Draw a rectangle</source>
      <translation>绘制矩形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="205" />
      <source>Draw a polygon</source>
      <translation>绘制多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="206" />
      <source>Selected features of a layer</source>
      <translation>图层中的选中要素</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="219" />
      <source>Draw</source>
      <translation>绘制</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="222" />
      <source>Draw the area on the map</source>
      <translation>在地图上绘制区域</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="225" />
      <source>Clear the drawn area</source>
      <translation>清除绘制的区域</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="239" />
      <source>Area of interest</source>
      <translation>感兴趣区域</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="244" />
      <source>Spectral indices (no model)</source>
      <translation>光谱指数（无需模型）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="246" />
      <source>SPEX vision-language model</source>
      <translation>SPEX 视觉-语言模型</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="249" />
      <source>SPEX model folder</source>
      <translation>SPEX 模型文件夹</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="259" />
      <source>Install dependencies…</source>
      <translation>安装依赖…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="263" />
      <location filename="../spex_qgis/dock.py" line="268" />
      <source>Engine</source>
      <translation>引擎</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="264" />
      <source>Model folder</source>
      <translation>模型文件夹</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="265" />
      <source>Device</source>
      <translation>设备</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="272" />
      <source>Temporary layer</source>
      <translation>临时图层</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="273" />
      <source>Save to file</source>
      <translation>保存到文件</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="282" />
      <source>GeoPackage (*.gpkg);;ESRI Shapefile (*.shp);;GeoJSON (*.geojson)</source>
      <translation>GeoPackage 文件 (*.gpkg);;ESRI Shapefile 文件 (*.shp);;GeoJSON 文件 (*.geojson)</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="284" />
      <source>Save the extracted polygons</source>
      <translation>保存提取的多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="290" />
      <source>Output</source>
      <translation>输出</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="293" />
      <source>Run</source>
      <translation>运行</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="296" />
      <source>Cancel</source>
      <translation>取消</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="316" />
      <source>The explanation of the last result appears here.</source>
      <translation>最近一次结果的解释将显示在这里。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="317" />
      <source>Export…</source>
      <translation>导出…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="319" />
      <source>Save the result as a Shapefile, GeoPackage or GeoJSON (run an extraction first)</source>
      <translation>将结果保存为 Shapefile、GeoPackage 或 GeoJSON（请先运行一次提取）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="325" />
      <source>Explanation</source>
      <translation>解释</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="415" />
      <source>GDAL cannot open this raster</source>
      <translation>GDAL 无法打开此栅格</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="440" />
      <source>Auto-detect</source>
      <translation>自动检测</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="478" />
      <source>— not set —</source>
      <translation>— 未设置 —</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="481" />
      <source>Band {}</source>
      <translation>波段 {}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="526" />
      <source>Pick a raster with 3 or more bands.</source>
      <translation>请选择包含 3 个或更多波段的栅格。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="529" />
      <source>unknown sensor</source>
      <translation>未知传感器</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="530" />
      <source>none detected</source>
      <translation>未检测到</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="533" />
      <source>bands</source>
      <translation>个波段</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="589" />
      <source>Drag a rectangle on the map (Esc cancels).</source>
      <translation>在地图上拖出一个矩形（按 Esc 取消）。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="591" />
      <source>Click the vertices, right-click to finish (Backspace undoes, Esc cancels).</source>
      <translation>依次点击顶点，右键结束（Backspace 撤销，Esc 取消）。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="655" />
      <source>The whole raster is processed.</source>
      <translation>将处理整个栅格。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="658" />
      <source>Select polygons in this layer with the Select tool.</source>
      <translation>请用选择工具在此图层中选择多边形。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="659" />
      <source>Click Draw, then draw on the map.</source>
      <translation>点击“绘制”，然后在地图上绘制。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="661" />
      <source>Area: {} km²</source>
      <translation>面积：{} 平方千米</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="691" />
      <source>SPEX engine unavailable: {}</source>
      <translation>SPEX 引擎不可用：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="693" />
      <source>Pick the SPEX model folder (config.json + *.safetensors).</source>
      <translation>请选择 SPEX 模型文件夹（包含 config.json 和 *.safetensors）。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="695" />
      <source>No config.json in this folder: pick the SPEX checkpoint folder.</source>
      <translation>此文件夹中没有 config.json：请选择 SPEX 检查点文件夹。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="699" />
      <source>SPEX model ready.</source>
      <translation>SPEX 模型已就绪。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="701" />
      <source>Spectral indices: fast, no model needed.</source>
      <translation>光谱指数：速度快，无需模型。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="714" />
      <source>Start the extraction in the background</source>
      <translation>在后台开始提取</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="734" />
      <source>Dependency installer unavailable: {}</source>
      <translation>依赖安装程序不可用：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="768" />
      <source>Replace file?</source>
      <translation>替换文件？</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="769" />
      <source>'{}' already exists. Replace it?</source>
      <translation>“{}”已存在。要替换它吗？</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="787" />
      <source>Not run: the output file exists.</source>
      <translation>未运行：输出文件已存在。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="803" />
      <source>Running: {}</source>
      <translation>正在运行：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="814" />
      <source>Cancelling…</source>
      <translation>正在取消…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="839" />
      <source>{} polygons, {} in {:.1f} s</source>
      <translation>{} 个多边形，{}，用时 {:.1f} 秒</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="845" />
      <source>Added '{}' with {} polygons</source>
      <translation>已添加“{}”，共 {} 个多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="860" />
      <source>Failed.</source>
      <translation>失败。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="866" />
      <source>Cancelled: nothing was written.</source>
      <translation>已取消：未写入任何内容。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="867" />
      <source>Extraction cancelled</source>
      <translation>提取已取消</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="875" />
      <source>{cls}: {n} polygons, {area} · engine {engine} · {secs:.1f} s</source>
      <translation>{cls}：{n} 个多边形，{area} · 引擎 {engine} · {secs:.1f} 秒</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="886" />
      <source>Notes</source>
      <translation>说明</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="905" />
      <source>Save '{}' as a Shapefile, GeoPackage or GeoJSON</source>
      <translation>将“{}”保存为 Shapefile、GeoPackage 或 GeoJSON</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="911" />
      <source>ESRI Shapefile (*.shp)</source>
      <translation>ESRI Shapefile 文件 (*.shp)</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="912" />
      <source>GeoPackage (*.gpkg)</source>
      <translation>GeoPackage 文件 (*.gpkg)</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="913" />
      <source>GeoJSON (*.geojson)</source>
      <translation>GeoJSON 文件 (*.geojson)</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="920" />
      <source>Export the SPEX result</source>
      <translation>导出 SPEX 结果</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="945" />
      <source>No result to export: run an extraction first, or select a SPEX result layer.</source>
      <translation>没有可导出的结果：请先运行一次提取，或选择一个 SPEX 结果图层。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="953" />
      <source>Not exported: the file exists.</source>
      <translation>未导出：文件已存在。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="967" />
      <source>Exporting '{}'…</source>
      <translation>正在导出“{}”…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="989" />
      <source>Exported {} polygons to {}</source>
      <translation>已将 {} 个多边形导出到 {}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="998" />
      <source>Export failed.</source>
      <translation>导出失败。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="1004" />
      <source>Export cancelled: nothing was written.</source>
      <translation>导出已取消：未写入任何文件。</translation>
    </message>
  </context>
  <context>
    <name>SpexExtractAlgorithm</name>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="92" />
      <source>Extract land cover from a prompt</source>
      <translation>根据提示词提取地物</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="96" />
      <source>Land cover extraction</source>
      <translation>地物提取</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="128" />
      <source>Extracts the land-cover class named in the prompt (for example "extract the water bodies" or "提取水体") from a multispectral raster (Sentinel-2, Landsat 8/9, 4-band RGBN aerial) and writes its polygons. Every feature carries an explanation of why it was extracted.

Engine "spectral" uses spectral indices and needs no model. Engine "spex" runs the SPEX vision-language model from the model folder (or the folder chosen in the SPEX panel) and needs the optional packages (Raster &gt; SPEX &gt; Install SPEX engine dependencies).

Limit the work with an extent and/or a polygon layer (both: their intersection). Band roles are detected from the sensor and band descriptions; override them with e.g. "red=3,nir=4". Threshold overrides the primary index threshold of the class.</source>
      <translation>从多光谱栅格（Sentinel-2、Landsat 8/9、4 波段 RGBN 航空影像）中提取提示词所指的地物类别（例如“提取水体”或 "extract the water bodies"），并输出其多边形。每个要素都附带说明其被提取原因的解释。

“spectral”引擎使用光谱指数，无需模型。“spex”引擎运行模型文件夹（或 SPEX 面板中所选文件夹）中的 SPEX 视觉-语言模型，需要安装可选软件包（栅格 &gt; SPEX &gt; 安装 SPEX 引擎依赖）。

可以用范围和/或多边形图层限制处理区域（两者都给出时取其交集）。波段角色根据传感器和波段描述自动检测；可以用例如 "red=3,nir=4" 覆盖。阈值参数会覆盖该类别主要指数的阈值。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="142" />
      <source>Multispectral raster</source>
      <translation>多光谱栅格</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="145" />
      <source>Prompt</source>
      <translation>提示词</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="145" />
      <source>extract the water bodies</source>
      <translation>提取水体</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="149" />
      <source>Extent (optional)</source>
      <translation>范围（可选）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="154" />
      <source>Area of interest polygons (optional)</source>
      <translation>感兴趣区域多边形（可选）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="162" />
      <source>Engine</source>
      <translation>引擎</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="171" />
      <source>SPEX model folder (engine spex)</source>
      <translation>SPEX 模型文件夹（spex 引擎）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="179" />
      <source>Device (engine spex)</source>
      <translation>设备（spex 引擎）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="188" />
      <source>Sensor</source>
      <translation>传感器</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="194" />
      <source>Band mapping (e.g. red=3,nir=4)</source>
      <translation>波段映射（例如 red=3,nir=4）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="198" />
      <source>Index threshold (empty: class default)</source>
      <translation>指数阈值（留空：使用类别默认值）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="209" />
      <source>Extracted polygons</source>
      <translation>提取的多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="212" />
      <source>Extracted class</source>
      <translation>提取的类别</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="213" />
      <source>Number of polygons</source>
      <translation>多边形数量</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="214" />
      <source>Total area (m²)</source>
      <translation>总面积（平方米）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="215" />
      <source>Explanation</source>
      <translation>解释</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="223" />
      <source>INPUT: the raster could not be opened: choose a readable raster file.</source>
      <translation>INPUT：无法打开该栅格：请选择可读取的栅格文件。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="227" />
      <source>INPUT: '{name}' is not a file raster (provider {provider}): save it as a GeoTIFF (Export &gt; Save As...) and use that file.</source>
      <translation>INPUT：“{name}”不是文件栅格（数据提供者 {provider}）：请将其另存为 GeoTIFF（导出 &gt; 另存为...）并使用该文件。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="257" />
      <source>AOI: the area-of-interest layer has no polygon (empty selection?): select polygons or untick 'Selected features only'.</source>
      <translation>AOI：感兴趣区域图层中没有多边形（选择集为空？）：请选择多边形，或取消勾选“仅选中要素”。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="266" />
      <source>AOI: the polygons do not overlap the extent: widen the extent or clear it.</source>
      <translation>AOI：多边形与范围不重叠：请扩大范围或清除范围。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="297" />
      <source>PROMPT: the prompt is empty: type what to extract, e.g. 'extract the water bodies'.</source>
      <translation>PROMPT：提示词为空：请输入要提取的内容，例如“提取水体”。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="344" />
      <source>Cancelled: nothing was written.</source>
      <translation>已取消：未写入任何内容。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="353" />
      <source>SPEX {target}</source>
      <translation>SPEX {target}</translation>
    </message>
  </context>
  <context>
    <name>SpexPlugin</name>
    <message>
      <location filename="../spex_qgis/plugin.py" line="102" />
      <source>SPEX extraction panel</source>
      <translation>SPEX 提取面板</translation>
    </message>
    <message>
      <location filename="../spex_qgis/plugin.py" line="105" />
      <source>Show or hide the SPEX prompt-extraction panel</source>
      <translation>显示或隐藏 SPEX 提示词提取面板</translation>
    </message>
    <message>
      <location filename="../spex_qgis/plugin.py" line="109" />
      <source>Install SPEX engine dependencies…</source>
      <translation>安装 SPEX 引擎依赖…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/plugin.py" line="116" />
      <source>SPEX</source>
      <translation>SPEX</translation>
    </message>
  </context>
  <context>
    <name>SpexProvider</name>
    <message>
      <location filename="../spex_qgis/processing/provider.py" line="20" />
      <source>SPEX</source>
      <translation>SPEX</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/provider.py" line="24" />
      <source>SPEX prompt-driven land-cover extraction</source>
      <translation>SPEX 提示词驱动的地物提取</translation>
    </message>
  </context>
</TS>
