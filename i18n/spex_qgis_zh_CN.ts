<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
  <context>
    <name>SpexAlgorithm</name>
    <message>
      <location filename="../spex_qgis/processing/base.py" line="22" />
      <source>Land cover extraction</source>
      <translation>地物提取</translation>
    </message>
  </context>
  <context>
    <name>SpexBatchAlgorithm</name>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="99" />
      <source>Extract land cover from a folder of rasters</source>
      <translation>从栅格文件夹中批量提取地物</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="107" />
      <source>Runs the prompt on every raster of the input folder whose name matches the pattern, in parallel on local dask workers, and merges the results into one GeoPackage layer whose 'source' field names each feature's raster. One GeoPackage per raster and a manifest are written to the output folder: running again skips the rasters already done and retries the failed ones; a raster that fails never stops the others. Needs the Python packages dask (distributed) and rich.</source>
      <translation>对输入文件夹中文件名与模式匹配的每个栅格运行提示词，在本地 dask 工作进程上并行处理，并将结果合并为一个 GeoPackage 图层，其 'source' 字段标明每个要素所属的栅格。每个栅格各写出一个 GeoPackage，并在输出文件夹中写出一份清单：再次运行时会跳过已完成的栅格并重试失败的栅格；某个栅格失败不会影响其他栅格。需要 Python 包 dask（distributed）和 rich。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="120" />
      <source>Folder of rasters</source>
      <translation>栅格文件夹</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="127" />
      <source>File name patterns (separated by ;)</source>
      <translation>文件名模式（以 ; 分隔）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="134" />
      <source>Parallel workers (0: one per CPU core)</source>
      <translation>并行工作进程数（0：每个 CPU 核心一个）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="143" />
      <source>Output folder (one file per raster)</source>
      <translation>输出文件夹（每个栅格一个文件）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="148" />
      <source>Merged polygons</source>
      <translation>合并的多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="151" />
      <source>Rasters done</source>
      <translation>已完成的栅格数</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="152" />
      <source>Rasters failed</source>
      <translation>失败的栅格数</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="153" />
      <source>Manifest</source>
      <translation>清单</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="169" />
      <source>PROMPT: the prompt is empty: type what to extract, e.g. 'extract the water bodies'.</source>
      <translation>PROMPT：提示词为空：请输入要提取的内容，例如“提取水体”。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="178" />
      <source>OUTPUT: the merged layer is a GeoPackage: choose a .gpkg file.</source>
      <translation>OUTPUT：合并图层为 GeoPackage 格式：请选择 .gpkg 文件。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="212" />
      <source>Cancelled: the rasters finished so far are kept; run again to resume.</source>
      <translation>已取消：已完成的栅格结果会保留；再次运行即可继续。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="226" />
      <source>No raster could be processed ({failed} failed): see the log above.</source>
      <translation>没有任何栅格处理成功（{failed} 个失败）：请查看上方日志。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/batch_algorithm.py" line="237" />
      <source>SPEX batch</source>
      <translation>SPEX 批处理</translation>
    </message>
  </context>
  <context>
    <name>SpexDeps</name>
    <message>
      <location filename="../spex_qgis/deps.py" line="555" />
      <source>plugin folder</source>
      <translation>插件文件夹</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="555" />
      <source>QGIS's Python</source>
      <translation>QGIS 的 Python</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="560" />
      <source>torch {torch} ({where}), vision encoder in torch (no ONNX Runtime: slower), device {device}</source>
      <translation>torch {torch}（{where}），视觉编码器运行于 torch（未安装 ONNX Runtime：较慢），设备 {device}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="564" />
      <source>torch {torch} ({where}), vision encoder on ONNX Runtime {ort} {ort_device}, device {device}</source>
      <translation>torch {torch}（{where}），视觉编码器运行于 ONNX Runtime {ort} {ort_device}，设备 {device}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="580" />
      <source>use Raster &gt; SPEX &gt; Install SPEX engine dependencies…, or pick the spectral engine</source>
      <translation>请使用“栅格 &gt; SPEX &gt; 安装 SPEX 引擎依赖…”，或选择光谱引擎</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="582" />
      <source>missing {}</source>
      <translation>缺少 {}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="583" />
      <source>too old: {}</source>
      <translation>版本过旧：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="585" />
      <source>SPEX engine unavailable ({problems}): {fix}</source>
      <translation>SPEX 引擎不可用（{problems}）：{fix}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="590" />
      <source>SPEX engine unavailable: {reason}: {fix}</source>
      <translation>SPEX 引擎不可用：{reason}：{fix}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="593" />
      <source>SPEX engine needs a QGIS restart: {modules} was imported before the plugin's package folder was added</source>
      <translation>SPEX 引擎需要重启 QGIS：{modules} 在插件的依赖包文件夹加入之前已被导入</translation>
    </message>
    <message>
      <location filename="../spex_qgis/deps.py" line="598" />
      <source>SPEX engine ready: {summary}</source>
      <translation>SPEX 引擎就绪：{summary}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="50" />
      <source>Install SPEX engine dependencies</source>
      <translation>安装 SPEX 引擎依赖</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="69" />
      <source>Offline: a folder of wheels (leave empty to download)</source>
      <translation>离线：wheel 文件所在的文件夹（留空则下载）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="70" />
      <source>Browse…</source>
      <translation>浏览…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="84" />
      <source>pip output appears here once you click Install.</source>
      <translation>点击“安装”后，pip 的输出将显示在这里。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="95" />
      <source>Copy command</source>
      <translation>复制命令</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="96" />
      <source>Check again</source>
      <translation>重新检查</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="97" />
      <source>Install</source>
      <translation>安装</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="98" />
      <source>Stop</source>
      <translation>停止</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="113" />
      <source>Folder of wheels</source>
      <translation>wheel 文件夹</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="133" />
      <source>The packages go to {folder} (only this QGIS profile uses them), only those QGIS's Python lacks or has too old.</source>
      <translation>软件包安装到 {folder}（仅此 QGIS 配置文件使用），只安装 QGIS 的 Python 缺少或版本过旧的包。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="184" />
      <source>Could not start {python}.</source>
      <translation>无法启动 {python}。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="205" />
      <source>Done: {status}</source>
      <translation>完成：{status}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/install_dialog.py" line="208" />
      <source>Failed (exit status {code}): {status}</source>
      <translation>失败（退出状态 {code}）：{status}</translation>
    </message>
  </context>
  <context>
    <name>SpexDockWidget</name>
    <message>
      <location filename="../spex_qgis/dock.py" line="73" />
      <source>SPEX — prompt extraction</source>
      <translation>SPEX — 提示词提取</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="248" />
      <source>Dependency installer unavailable: {}</source>
      <translation>依赖安装程序不可用：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="303" />
      <source>Cancelling…</source>
      <translation>正在取消…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="310" />
      <source>Exporting '{}'…</source>
      <translation>正在导出“{}”…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="314" />
      <source>Running: {}</source>
      <translation>正在运行：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="314" />
      <source>Previewing: {}</source>
      <translation>正在预览：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="327" />
      <source>Not run: {}</source>
      <translation>未运行：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="332" />
      <source>Not exported: the file exists.</source>
      <translation>未导出：文件已存在。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="334" />
      <source>Not run: the output file exists.</source>
      <translation>未运行：输出文件已存在。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="341" />
      <source>Added '{}' with {} polygons</source>
      <translation>已添加“{}”，共 {} 个多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="361" />
      <source>Failed: {}</source>
      <translation>失败：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="367" />
      <location filename="../spex_qgis/result_html.py" line="88" />
      <source>Cancelled: nothing was written.</source>
      <translation>已取消：未写入任何内容。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="370" />
      <source>Extraction cancelled</source>
      <translation>提取已取消</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="409" />
      <source>Save '{}' as a GeoPackage, Shapefile or GeoJSON</source>
      <translation>将“{}”保存为 GeoPackage、Shapefile 或 GeoJSON</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="423" />
      <source>No result to export: run an extraction first, or select a SPEX result layer.</source>
      <translation>没有可导出的结果：请先运行一次提取，或选择一个 SPEX 结果图层。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="433" />
      <source>Exported {} polygons to {}</source>
      <translation>已将 {} 个多边形导出到 {}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="442" />
      <source>Export failed.</source>
      <translation>导出失败。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/dock.py" line="448" />
      <source>Export cancelled: nothing was written.</source>
      <translation>导出已取消：未写入任何文件。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="122" />
      <location filename="../spex_qgis/ui/input_panel.py" line="110" />
      <source>Raster</source>
      <translation>栅格</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="123" />
      <location filename="../spex_qgis/ui/prompt_panel.py" line="42" />
      <source>Prompt</source>
      <translation>提示词</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="124" />
      <location filename="../spex_qgis/ui/output_panel.py" line="25" />
      <source>Save to file</source>
      <translation>保存到文件</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="125" />
      <location filename="../spex_qgis/ui/aoi_panel.py" line="132" />
      <source>Area of interest</source>
      <translation>感兴趣区域</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="126" />
      <location filename="../spex_qgis/ui/engine_panel.py" line="86" />
      <location filename="../spex_qgis/ui/engine_panel.py" line="93" />
      <source>Engine</source>
      <translation>引擎</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="127" />
      <location filename="../spex_qgis/ui/engine_panel.py" line="87" />
      <source>Model folder</source>
      <translation>模型文件夹</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="128" />
      <location filename="../spex_qgis/ui/engine_panel.py" line="88" />
      <source>Base model (LoRA)</source>
      <translation>基础模型（LoRA）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="129" />
      <location filename="../spex_qgis/ui/engine_panel.py" line="89" />
      <source>Device</source>
      <translation>设备</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="130" />
      <location filename="../spex_qgis/ui/engine_panel.py" line="90" />
      <source>Precision</source>
      <translation>精度</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="131" />
      <location filename="../spex_qgis/ui/input_panel.py" line="113" />
      <source>Sensor</source>
      <translation>传感器</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="132" />
      <location filename="../spex_qgis/ui/input_panel.py" line="117" />
      <source>Bands</source>
      <translation>波段</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="133" />
      <location filename="../spex_qgis/ui/filters_panel.py" line="68" />
      <source>Reflectance scaling</source>
      <translation>反射率缩放</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="134" />
      <location filename="../spex_qgis/ui/filters_panel.py" line="64" />
      <source>Threshold</source>
      <translation>阈值</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="135" />
      <location filename="../spex_qgis/ui/filters_panel.py" line="65" />
      <source>Method</source>
      <translation>方法</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="136" />
      <location filename="../spex_qgis/ui/filters_panel.py" line="66" />
      <source>Minimum area</source>
      <translation>最小面积</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="137" />
      <location filename="../spex_qgis/ui/filters_panel.py" line="67" />
      <source>Simplify</source>
      <translation>简化</translation>
    </message>
    <message>
      <location filename="../spex_qgis/request_builder.py" line="138" />
      <location filename="../spex_qgis/ui/filters_panel.py" line="69" />
      <source>Explanation language</source>
      <translation>解释语言</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="28" />
      <source>water</source>
      <translation>水体</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="29" />
      <source>vegetation</source>
      <translation>植被</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="30" />
      <source>buildings</source>
      <translation>建筑物</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="31" />
      <source>bare soil</source>
      <translation>裸土</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="32" />
      <source>clouds</source>
      <translation>云</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="33" />
      <source>snow</source>
      <translation>积雪</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="44" />
      <source>Done: {} polygons, {} in {:.1f} s</source>
      <translation>完成：{} 个多边形，{}，用时 {:.1f} 秒</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="51" />
      <source>{cls}: {n} polygons, {area} · engine {engine} · {secs:.1f} s</source>
      <translation>{cls}：{n} 个多边形，{area} · 引擎 {engine} · {secs:.1f} 秒</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="61" />
      <source>Notes</source>
      <translation>说明</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="67" />
      <source>Nothing found: no {} in this area ({:.1f} s).</source>
      <translation>未找到结果：该区域内没有{}（{:.1f} 秒）。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="74" />
      <source>Try a larger area, a lower threshold (Threshold and filters), or a smaller minimum area.</source>
      <translation>可尝试更大的区域、更低的阈值（阈值与过滤）或更小的最小面积。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="83" />
      <source>The extraction failed.</source>
      <translation>提取失败。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="98" />
      <source>Preview: {}</source>
      <translation>预览：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/result_html.py" line="105" />
      <source>Preview: {} covers {:.1f} % of the valid pixels ({:.1f} s). Run writes the polygons.</source>
      <translation>预览：{}占有效像元的 {:.1f} %（{:.1f} 秒）。点击“运行”写出多边形。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="100" />
      <source>Whole layer</source>
      <translation>整个图层</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="101" />
      <source>Current map extent</source>
      <translation>当前地图范围</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="102" />
      <source>Draw a rectangle</source>
      <translation>绘制矩形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="103" />
      <source>Draw a polygon</source>
      <translation>绘制多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="104" />
      <source>Selected features of a layer</source>
      <translation>图层中的选中要素</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="110" />
      <source>Draw</source>
      <translation>绘制</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="113" />
      <source>Draw the area on the map</source>
      <translation>在地图上绘制区域</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="116" />
      <source>Clear the drawn area</source>
      <translation>清除绘制的区域</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="183" />
      <source>Drag a rectangle on the map (Esc cancels).</source>
      <translation>在地图上拖出一个矩形（按 Esc 取消）。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="185" />
      <source>Click the vertices, right-click to finish (Backspace undoes, Esc cancels).</source>
      <translation>依次点击顶点，右键结束（Backspace 撤销，Esc 取消）。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="255" />
      <source>The whole raster is processed.</source>
      <translation>将处理整个栅格。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="258" />
      <source>Select polygons in this layer with the Select tool.</source>
      <translation>请用选择工具在此图层中选择多边形。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="259" />
      <source>Click Draw, then draw on the map.</source>
      <translation>点击“绘制”，然后在地图上绘制。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="261" />
      <source>Outside the raster: this area does not overlap '{}'. Draw it over the raster.</source>
      <translation>超出栅格范围：该区域与“{}”不重叠。请在栅格范围内绘制。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="265" />
      <source>Area: {} km²</source>
      <translation>面积：{} 平方千米</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/aoi_panel.py" line="267" />
      <source>(partly outside the raster: only the overlap is processed)</source>
      <translation>（部分超出栅格范围：只处理重叠部分）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="65" />
      <source>Spectral indices (no model)</source>
      <translation>光谱指数（无需模型）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="66" />
      <source>SPEX vision-language model</source>
      <translation>SPEX 视觉-语言模型</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="67" />
      <source>SPEX model folder</source>
      <translation>SPEX 模型文件夹</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="69" />
      <source>Base model folder (LoRA checkpoints only)</source>
      <translation>基础模型文件夹（仅用于 LoRA 检查点）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="72" />
      <source>Only for a LoRA checkpoint (non_lora_trainables.bin + adapter): the folder of the base model it was trained from. Leave empty for the released (merged) SPEX folder.</source>
      <translation>仅用于 LoRA 检查点（non_lora_trainables.bin + 适配器）：训练它所基于的基础模型文件夹。使用发布的（已合并的）SPEX 文件夹时请留空。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="84" />
      <source>Install dependencies…</source>
      <translation>安装依赖…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="101" />
      <source>Auto (fp32 on CPU, bf16/fp16 on GPU)</source>
      <translation>自动（CPU 上为 fp32，GPU 上为 bf16/fp16）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="102" />
      <source>fp32 — exact</source>
      <translation>fp32 — 精确</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="103" />
      <source>int8 — faster on CPU, less exact</source>
      <translation>int8 — CPU 上更快，精度略低</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="104" />
      <source>bf16 — GPU</source>
      <translation>bf16 — GPU</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="105" />
      <source>fp16 — GPU</source>
      <translation>fp16 — GPU</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="111" />
      <source>Numeric precision of the SPEX model. Auto: exact fp32 on the CPU, bf16/fp16 on a GPU. int8 (CPU only) is about twice as fast but less exact; fp16 and bf16 are for GPUs.</source>
      <translation>SPEX 模型的数值精度。自动：CPU 上使用精确的 fp32，GPU 上使用 bf16/fp16。int8（仅限 CPU）速度约快一倍，但精度略低；fp16 和 bf16 适用于 GPU。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="157" />
      <source>Pick the SPEX model folder (config.json + *.safetensors).</source>
      <translation>请选择 SPEX 模型文件夹（包含 config.json 和 *.safetensors）。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="159" />
      <source>No config.json in this folder: pick the SPEX checkpoint folder.</source>
      <translation>此文件夹中没有 config.json：请选择 SPEX 检查点文件夹。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="163" />
      <source>SPEX model ready.</source>
      <translation>SPEX 模型已就绪。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/engine_panel.py" line="165" />
      <source>Spectral indices: fast, no model needed.</source>
      <translation>光谱指数：速度快，无需模型。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/export_dialog.py" line="36" />
      <source>ESRI Shapefile (*.shp)</source>
      <translation>ESRI Shapefile 文件 (*.shp)</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/export_dialog.py" line="37" />
      <source>GeoPackage (*.gpkg)</source>
      <translation>GeoPackage 文件 (*.gpkg)</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/export_dialog.py" line="38" />
      <source>GeoJSON (*.geojson)</source>
      <translation>GeoJSON 文件 (*.geojson)</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/export_dialog.py" line="46" />
      <source>Export the SPEX result</source>
      <translation>导出 SPEX 结果</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/export_dialog.py" line="64" />
      <source>Replace file?</source>
      <translation>替换文件？</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/export_dialog.py" line="65" />
      <source>'{}' already exists. Replace it?</source>
      <translation>“{}”已存在。要替换它吗？</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/filters_panel.py" line="32" />
      <source>Class default</source>
      <translation>类别默认值</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/filters_panel.py" line="38" />
      <source>Threshold of the class's main spectral index (e.g. NDWI for water, NDVI for vegetation). Lower: more sensitive, more polygons; higher: stricter.</source>
      <translation>该类别主要光谱指数的阈值（例如水体用 NDWI，植被用 NDVI）。调低：更灵敏、多边形更多；调高：更严格。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/filters_panel.py" line="49" />
      <source>Fixed (class default or the value above)</source>
      <translation>固定（类别默认值或上面的数值）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/filters_panel.py" line="50" />
      <source>Automatic from this scene (Otsu)</source>
      <translation>根据本景自动确定（Otsu）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/filters_panel.py" line="52" />
      <source>Polygons smaller than this are dropped (0: keep all)</source>
      <translation>小于此面积的多边形将被舍弃（0：全部保留）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/filters_panel.py" line="56" />
      <source>Simplification tolerance in map units of the raster (0: exact pixel outlines)</source>
      <translation>简化容差，单位为栅格的地图单位（0：保留精确的像元边界）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/filters_panel.py" line="60" />
      <source>Same as the prompt</source>
      <translation>与提示词相同</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/filters_panel.py" line="61" />
      <source>English</source>
      <translation>英文</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/filters_panel.py" line="62" />
      <source>Chinese</source>
      <translation>中文</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/filters_panel.py" line="70" />
      <source>Threshold and filters</source>
      <translation>阈值与过滤</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/filters_panel.py" line="80" />
      <location filename="../spex_qgis/ui/input_panel.py" line="243" />
      <source>Auto-detect</source>
      <translation>自动检测</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/filters_panel.py" line="89" />
      <source>How pixel values become reflectance; type GAIN,OFFSET (e.g. 0.0001,-0.1) for your own</source>
      <translation>像元值如何换算为反射率；可输入 增益,偏移（例如 0.0001,-0.1）自定义</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="42" />
      <source>coastal aerosol</source>
      <translation>海岸气溶胶</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="43" />
      <source>blue</source>
      <translation>蓝</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="44" />
      <source>green</source>
      <translation>绿</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="45" />
      <source>red</source>
      <translation>红</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="46" />
      <source>red edge 1</source>
      <translation>红边 1</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="47" />
      <source>red edge 2</source>
      <translation>红边 2</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="48" />
      <source>red edge 3</source>
      <translation>红边 3</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="49" />
      <source>NIR</source>
      <translation>近红外</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="50" />
      <source>narrow NIR</source>
      <translation>窄近红外</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="51" />
      <source>water vapour</source>
      <translation>水汽</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="52" />
      <source>cirrus</source>
      <translation>卷云</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="53" />
      <source>SWIR 1</source>
      <translation>短波红外 1</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="54" />
      <source>SWIR 2</source>
      <translation>短波红外 2</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="55" />
      <source>thermal 1</source>
      <translation>热红外 1</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="56" />
      <source>thermal 2</source>
      <translation>热红外 2</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="57" />
      <source>panchromatic</source>
      <translation>全色</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="109" />
      <source>A multispectral raster (3 or more bands) read from a file</source>
      <translation>从文件读取的多光谱栅格（3 个或更多波段）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="112" />
      <source>Sensor preset that decides which band is which</source>
      <translation>决定各波段含义的传感器预设</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="119" />
      <source>Role</source>
      <translation>角色</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="119" />
      <source>Band</source>
      <translation>波段</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="125" />
      <source>Reset to detected</source>
      <translation>恢复为自动检测结果</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="129" />
      <source>Band mapping</source>
      <translation>波段映射</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="135" />
      <source>Input</source>
      <translation>输入</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="187" />
      <source>GDAL cannot open this raster</source>
      <translation>GDAL 无法打开此栅格</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="290" />
      <source>— not set —</source>
      <translation>— 未设置 —</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="293" />
      <source>Band {}</source>
      <translation>波段 {}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="364" />
      <source>Pick a raster with 3 or more bands.</source>
      <translation>请选择包含 3 个或更多波段的栅格。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="367" />
      <source>unknown sensor</source>
      <translation>未知传感器</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="369" />
      <source>Reading the bands…</source>
      <translation>正在读取波段…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="370" />
      <source>none detected</source>
      <translation>未检测到</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="375" />
      <source>{} bands</source>
      <translation>{} 个波段</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/input_panel.py" line="380" />
      <source>Not used: {}</source>
      <translation>不使用：{}</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/output_panel.py" line="24" />
      <source>Temporary layer</source>
      <translation>临时图层</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/output_panel.py" line="33" />
      <source>GeoPackage (*.gpkg);;ESRI Shapefile (*.shp);;GeoJSON (*.geojson)</source>
      <translation>GeoPackage 文件 (*.gpkg);;ESRI Shapefile 文件 (*.shp);;GeoJSON 文件 (*.geojson)</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/output_panel.py" line="34" />
      <source>Save the extracted polygons</source>
      <translation>保存提取的多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/output_panel.py" line="42" />
      <source>Output</source>
      <translation>输出</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/prompt_panel.py" line="35" />
      <source>e.g. extract the water bodies / 提取水体</source>
      <translation>例如：提取水体 / extract the water bodies</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/result_panel.py" line="31" />
      <source>Run</source>
      <translation>运行</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/result_panel.py" line="34" />
      <source>Cancel</source>
      <translation>取消</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/result_panel.py" line="36" />
      <source>Preview</source>
      <translation>预览</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/result_panel.py" line="38" />
      <source>Show the mask of the current area as a temporary raster layer, without writing polygons (quick threshold tuning on large scenes)</source>
      <translation>将当前区域的掩膜显示为临时栅格图层，不写出多边形（便于在大场景上快速调整阈值）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/result_panel.py" line="64" />
      <source>Start the extraction in the background</source>
      <translation>在后台开始提取</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/result_panel.py" line="77" />
      <source>The explanation of the last result appears here.</source>
      <translation>最近一次结果的解释将显示在这里。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/result_panel.py" line="78" />
      <source>Export…</source>
      <translation>导出…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/result_panel.py" line="80" />
      <source>Save the result as a GeoPackage, Shapefile or GeoJSON (run an extraction first)</source>
      <translation>将结果保存为 GeoPackage、Shapefile 或 GeoJSON（请先运行一次提取）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/ui/result_panel.py" line="88" />
      <source>Explanation</source>
      <translation>解释</translation>
    </message>
  </context>
  <context>
    <name>SpexExtractAlgorithm</name>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="121" />
      <source>Extract land cover from a prompt</source>
      <translation>根据提示词提取地物</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="145" />
      <source>Extracts the land-cover class named in the prompt (for example "extract the water bodies" or "提取水体") from a multispectral raster (Sentinel-2, Landsat 8/9, 4-band RGBN aerial) and writes its polygons. Every feature carries an explanation of why it was extracted.

Engine "spectral" uses spectral indices and needs no model. Engine "spex" runs the SPEX vision-language model from the model folder and needs the optional packages (Raster &gt; SPEX &gt; Install SPEX engine dependencies).

Limit the work with an extent and/or a polygon layer (both: their intersection). Band roles are detected from the sensor and band descriptions; override them with e.g. "red=3,nir=4". Threshold overrides the primary index threshold of the class; method otsu takes it from the scene's histogram. Minimum area drops small polygons; simplify smooths the outlines (map units). Scaling: auto, none, s2, s2-offset, landsat-c2-l2 or GAIN,OFFSET. Model precision (engine spex): auto is exact fp32 on the CPU and bf16/fp16 on a GPU; int8 is about twice as fast on the CPU but less exact.</source>
      <translation>从多光谱栅格（Sentinel-2、Landsat 8/9、4 波段 RGBN 航空影像）中提取提示词所指的地物类别（例如“提取水体”或 "extract the water bodies"），并输出其多边形。每个要素都附有为何被提取的解释。

“spectral”引擎使用光谱指数，无需模型。“spex”引擎从模型文件夹运行 SPEX 视觉语言模型，需要安装可选依赖包（栅格 &gt; SPEX &gt; 安装 SPEX 引擎依赖）。

可用范围和/或多边形图层限定处理区域（两者都给出时取交集）。波段角色根据传感器和波段描述自动检测；可用例如 "red=3,nir=4" 覆盖。阈值覆盖该类别主要指数的阈值；otsu 方法根据本景直方图确定阈值。最小面积用于舍弃小多边形；简化用于平滑轮廓（地图单位）。缩放：auto、none、s2、s2-offset、landsat-c2-l2 或 GAIN,OFFSET。模型精度（spex 引擎）：auto 在 CPU 上为精确的 fp32，在 GPU 上为 bf16/fp16；int8 在 CPU 上约快一倍，但精度较低。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="163" />
      <source>Multispectral raster</source>
      <translation>多光谱栅格</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="165" />
      <source>Extent</source>
      <translation>范围</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="169" />
      <source>Area of interest polygons</source>
      <translation>感兴趣区域多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="178" />
      <source>Base model folder (engine spex, LoRA checkpoints only)</source>
      <translation>基础模型文件夹（spex 引擎，仅用于 LoRA 检查点）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="187" />
      <source>Largest area processed (pixels, 0: no limit)</source>
      <translation>处理区域上限（像元数，0：不限制）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="195" />
      <source>Extracted polygons</source>
      <translation>提取的多边形</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="198" />
      <source>Extracted class</source>
      <translation>提取的类别</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="199" />
      <source>Number of polygons</source>
      <translation>多边形数量</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="200" />
      <source>Total area (m²)</source>
      <translation>总面积（平方米）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="201" />
      <source>Explanation</source>
      <translation>解释</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="209" />
      <source>INPUT: the raster could not be opened: choose a readable raster file.</source>
      <translation>INPUT：无法打开该栅格：请选择可读取的栅格文件。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="213" />
      <source>INPUT: '{name}' is not a file raster (provider {provider}): save it as a GeoTIFF (Export &gt; Save As...) and use that file.</source>
      <translation>INPUT：“{name}”不是文件栅格（数据提供者 {provider}）：请将其另存为 GeoTIFF（导出 &gt; 另存为...）并使用该文件。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="243" />
      <source>AOI: the area-of-interest layer has no polygon (empty selection?): select polygons or untick 'Selected features only'.</source>
      <translation>AOI：感兴趣区域图层中没有多边形（选择集为空？）：请选择多边形，或取消勾选“仅选中要素”。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="252" />
      <source>AOI: the polygons do not overlap the extent: widen the extent or clear it.</source>
      <translation>AOI：多边形与范围不重叠：请扩大范围或清除范围。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="275" />
      <source>MODEL_DIR: engine spex needs the SPEX model folder: set MODEL_DIR, or use spectral.</source>
      <translation>MODEL_DIR：spex 引擎需要 SPEX 模型文件夹：请设置 MODEL_DIR，或使用 spectral 引擎。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="315" />
      <source>Cancelled: nothing was written.</source>
      <translation>已取消：未写入任何内容。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="327" />
      <source>{n} polygons, {area:,.0f} m², {secs:.1f} s</source>
      <translation>{n} 个多边形，{area:,.0f} m²，用时 {secs:.1f} 秒</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/extract_algorithm.py" line="336" />
      <source>SPEX {target}</source>
      <translation>SPEX {target}</translation>
    </message>
  </context>
  <context>
    <name>SpexLayers</name>
    <message>
      <location filename="../spex_qgis/layers.py" line="80" />
      <source>SPEX results</source>
      <translation>SPEX 结果</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="154" />
      <source>The extraction wrote no file: run it again with an output file or a temporary layer.</source>
      <translation>提取没有写出任何文件：请选择输出文件或临时图层后重新运行。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="160" />
      <source>Cannot open the result '{}': check that the file still exists and is readable, then run again.</source>
      <translation>无法打开结果“{}”：请确认该文件仍然存在且可读，然后重新运行。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="201" />
      <source>Cannot open the preview mask '{}': run the preview again.</source>
      <translation>无法打开预览掩膜“{}”：请重新预览。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="234" />
      <source>Unsupported export format '{}': use .gpkg, .shp or .geojson.</source>
      <translation>不支持的导出格式“{}”：请使用 .gpkg、.shp 或 .geojson。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="239" />
      <source>Export folder '{}' does not exist: create it or pick another file.</source>
      <translation>导出文件夹“{}”不存在：请先创建该文件夹或选择其他文件。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="242" />
      <source>'{}' is a folder: give a file name such as {}.</source>
      <translation>“{}”是一个文件夹：请给出文件名，例如 {}。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="245" />
      <source>'{}' is the file this layer is read from: choose another name for the export.</source>
      <translation>“{}”正是该图层读取的文件：请为导出选择其他名称。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="250" />
      <source>'{}' already exists: choose another name or allow overwriting.</source>
      <translation>“{}”已存在：请选择其他名称或允许覆盖。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="319" />
      <source>Export to '{}' failed ({}): check the folder is writable.</source>
      <translation>导出到“{}”失败（{}）：请检查该文件夹是否可写。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="418" />
      <source>Shapefile text fields hold at most {} bytes: '{}' is split over {} and written in full to {}.</source>
      <translation>Shapefile 文本字段最多容纳 {} 字节：“{}”已拆分到字段 {}，完整内容写入 {}。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/layers.py" line="426" />
      <source>Shapefiles have no layer description: the run's explanation is written to {}.</source>
      <translation>Shapefile 没有图层描述：本次运行的说明已写入 {}。</translation>
    </message>
  </context>
  <context>
    <name>SpexPlugin</name>
    <message>
      <location filename="../spex_qgis/plugin.py" line="109" />
      <source>SPEX extraction panel</source>
      <translation>SPEX 提取面板</translation>
    </message>
    <message>
      <location filename="../spex_qgis/plugin.py" line="112" />
      <source>Show or hide the SPEX prompt-extraction panel</source>
      <translation>显示或隐藏 SPEX 提示词提取面板</translation>
    </message>
    <message>
      <location filename="../spex_qgis/plugin.py" line="116" />
      <source>Install SPEX engine dependencies…</source>
      <translation>安装 SPEX 引擎依赖…</translation>
    </message>
    <message>
      <location filename="../spex_qgis/plugin.py" line="123" />
      <source>SPEX</source>
      <translation>SPEX</translation>
    </message>
  </context>
  <context>
    <name>SpexProcessingParameters</name>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="77" />
      <source>Prompt</source>
      <translation>提示词</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="77" />
      <source>extract the water bodies</source>
      <translation>提取水体</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="82" />
      <source>Engine</source>
      <translation>引擎</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="89" />
      <source>SPEX model folder (engine spex)</source>
      <translation>SPEX 模型文件夹（spex 引擎）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="97" />
      <source>Device (engine spex)</source>
      <translation>设备（spex 引擎）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="103" />
      <source>Model precision (engine spex; int8: faster on CPU, less exact)</source>
      <translation>模型精度（spex 引擎；int8：CPU 上更快，精度略低）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="111" />
      <source>Sensor</source>
      <translation>传感器</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="118" />
      <source>Band mapping (e.g. red=3,nir=4)</source>
      <translation>波段映射（例如 red=3,nir=4）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="125" />
      <source>Reflectance scaling (empty: detect)</source>
      <translation>反射率缩放（留空：自动检测）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="133" />
      <source>Index threshold (empty: class default)</source>
      <translation>指数阈值（留空：使用类别默认值）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="143" />
      <source>Threshold method (otsu: from the scene's histogram)</source>
      <translation>阈值方法（otsu：根据本景直方图确定）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="151" />
      <source>Minimum polygon area (m²)</source>
      <translation>最小多边形面积（m²）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="162" />
      <source>Simplify tolerance (map units, 0: none)</source>
      <translation>简化容差（地图单位，0：不简化）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="171" />
      <source>Explanation language (auto: the prompt's)</source>
      <translation>解释语言（auto：与提示词相同）</translation>
    </message>
    <message>
      <location filename="../spex_qgis/processing/parameters.py" line="207" />
      <location filename="../spex_qgis/processing/parameters.py" line="209" />
      <source>Detect from the raster</source>
      <translation>从栅格自动检测</translation>
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
      <location filename="../spex_qgis/task.py" line="91" />
      <location filename="../spex_qgis/task.py" line="258" />
      <source>Unexpected error ({}: {}); details in the SPEX log panel</source>
      <translation>意外错误（{}：{}）；详情见 SPEX 日志面板</translation>
    </message>
    <message>
      <location filename="../spex_qgis/task.py" line="109" />
      <source>The extraction stopped without a result; details in the SPEX log panel</source>
      <translation>提取未产生结果即已停止；详情见 SPEX 日志面板</translation>
    </message>
    <message>
      <location filename="../spex_qgis/task.py" line="133" />
      <source>{message}; in QGIS use Raster &gt; SPEX &gt; Install SPEX engine dependencies…</source>
      <translation>{message}；在 QGIS 中请使用“栅格 &gt; SPEX &gt; 安装 SPEX 引擎依赖…”</translation>
    </message>
    <message>
      <location filename="../spex_qgis/task.py" line="195" />
      <source>Cannot read the layer '{}' to export it: check that its file still exists.</source>
      <translation>无法读取要导出的图层“{}”：请确认其文件仍然存在。</translation>
    </message>
    <message>
      <location filename="../spex_qgis/task.py" line="211" />
      <source>Export failed ({}: {}); details in the SPEX log panel</source>
      <translation>导出失败（{}：{}）；详情见 SPEX 日志面板</translation>
    </message>
    <message>
      <location filename="../spex_qgis/task.py" line="270" />
      <source>The preview stopped without a result</source>
      <translation>预览未产生结果就停止了</translation>
    </message>
  </context>
</TS>
