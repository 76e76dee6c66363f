"""Chinese forms of the runtime's user-facing messages (errors, progress) for the QGIS plugin's Chinese UI.

The runtime raises its one-line messages in English (the CLI's language). :func:`localize` maps a message to
Chinese through :data:`ZH`, a catalogue keyed by the message's template exactly as written in the source
(``str.format`` style: every f-string field becomes ``{}``); the Chinese template refers to the fields by
position (``{0}``, ``{1}``...) so the word order may change. A field that is itself a catalogued message
(e.g. the prompt help) is translated too. A message with no catalogue entry is returned unchanged: never
lost, only untranslated. ``tests/runtime/test_messages.py`` checks that every ``SpexInputError`` template the
plugin can meet has an entry, and that the Chinese keeps every field.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Dict, List, Mapping, Tuple

ZH: Dict[str, str] = {
    # options (model_runtime.request_builder): {} before "DIR"/"value" is the option's name
    "the spex engine needs the SPEX model folder: pass {} DIR (or use {} spectral, which needs no weights)": (
        "SPEX 引擎需要 SPEX 模型文件夹：请指定 {0}（或改用不需要权重的 {1} spectral）"
    ),
    "model folder {} does not exist: point {} at the folder holding the SPEX config.json and weights": (
        "模型文件夹 {0} 不存在：请让 {1} 指向包含 SPEX config.json 和权重文件的文件夹"
    ),
    "unknown {} value '{}': use one of {}": "{0} 的取值“{1}”未知：请使用 {2} 之一",
    "unknown device '{}': use auto, cpu, cuda or cuda:N": "未知设备“{0}”：请使用 auto、cpu、cuda 或 cuda:N",
    "precision int8 runs on the CPU only: use {} cpu for int8, or {} auto on the GPU": (
        "int8 精度只能在 CPU 上运行：int8 请将 {0} 设为 cpu，或在 GPU 上将 {1} 设为 auto"
    ),
    "precision fp16 needs a GPU: use {} cuda for fp16, or {} auto, fp32 or int8 on the CPU": (
        "fp16 精度需要 GPU：fp16 请将 {0} 设为 cuda，或在 CPU 上将 {1} 设为 auto、fp32 或 int8"
    ),
    "{} must be a number, got '{}': write e.g. 0.25 or 100": (
        "{0} 必须是数字，而不是“{1}”：请写成例如 0.25 或 100"
    ),
    "{} must be a finite number, got '{}': write e.g. 0.25": (
        "{0} 必须是有限的数字，而不是“{1}”：请写成例如 0.25"
    ),
    "{} cannot be negative, got '{}': use 0 to turn it off": "{0} 不能为负数（“{1}”）：设为 0 即关闭",
    "{} must be 0 or a positive whole number, got '{}': write e.g. 1000": (
        "{0} 必须是 0 或正整数，而不是“{1}”：请写成例如 1000"
    ),
    # the QGIS panel's own rules (spex_qgis/request_builder.py)
    "No raster layer selected: add a multispectral raster to the project and pick it in the SPEX panel.": (
        "未选择栅格图层：请将多光谱栅格添加到项目中，并在 SPEX 面板中选择它。"
    ),
    "Layer '{}' is not a file raster (provider '{}'): save it as a GeoTIFF (right-click > Export > Save "
    "As...) and pick the saved layer.": (
        "图层“{0}”不是文件栅格（数据源“{1}”）：请将其另存为 GeoTIFF（右键 > 导出 > 另存为...），"
        "然后选择保存的图层。"
    ),
    "Unknown area mode '{}': choose one of {}.": "未知的区域模式“{0}”：请选择 {1} 之一。",
    "Map extent unavailable: zoom the map to the area, or choose 'Whole layer'.": (
        "无法获取地图范围：请将地图缩放到该区域，或选择“整个图层”。"
    ),
    "No rectangle drawn: click 'Draw' and drag a rectangle on the map, or choose 'Whole layer'.": (
        "未绘制矩形：请点击“绘制”并在地图上拖出一个矩形，或选择“整个图层”。"
    ),
    "No polygon drawn: click 'Draw', click the vertices on the map and right-click to finish, or choose "
    "'Whole layer'.": "未绘制多边形：请点击“绘制”，在地图上点击各顶点并右键结束，或选择“整个图层”。",
    "No polygon features selected: select polygons in the chosen vector layer with the Select tool, or "
    "choose another area.": "未选择多边形要素：请用选择工具在所选矢量图层中选择多边形，或选择其他区域。",
    "Unknown output mode '{}': choose 'temporary' or 'file'.": (
        "未知的输出方式“{0}”：请选择 'temporary' 或 'file'。"
    ),
    "No temporary folder configured: choose 'Save to file' and pick an output file.": (
        "未配置临时文件夹：请选择“保存到文件”并选择输出文件。"
    ),
    "No output file chosen: pick a .gpkg, .shp or .geojson file, or choose 'Temporary layer'.": (
        "未选择输出文件：请选择 .gpkg、.shp 或 .geojson 文件，或选择“临时图层”。"
    ),
    "Unsupported output format '{}': use one of {}.": "不支持的输出格式“{0}”：请使用 {1} 之一。",
    "Output folder '{}' does not exist: create it or pick another file.": (
        "输出文件夹“{0}”不存在：请创建它或选择其他文件。"
    ),
    # the spex command line (model_runtime.cli)
    "{} (see '{} --help')": "{0}（参见“{1} --help”）",
    "no raster given: run 'spex info RASTER' (or 'spex info --sensors')": (
        "未指定栅格：请运行“spex info 栅格”（或“spex info --sensors”）"
    ),
    "argument {} holds bytes that are not valid UTF-8: pass text (and file names) in UTF-8, e.g. rename the "
    "file": "参数 {0} 含有无效的 UTF-8 字节：请以 UTF-8 传入文本（和文件名），例如重命名该文件",
    # prompts
    "ask for one of water, vegetation, building, bare soil, cloud, snow (e.g. 'extract the water bodies')": (
        "请指定以下类别之一：水体、植被、建筑、裸土、云、雪（例如“提取水体”）"
    ),
    "empty prompt: {}": "提示词为空：{0}",
    "unknown language {}: use 'en' or 'zh'": "未知语言 {0}：请使用 'en' 或 'zh'",
    "no supported land-cover class in prompt {}: {}": "提示词 {0} 中没有支持的地物类别：{1}",
    "prompt {} names several land-cover classes ({}): ask for one class per extraction": (
        "提示词 {0} 指定了多个地物类别（{1}）：每次提取只指定一个类别"
    ),
    # raster and bands
    "no raster given: pass the path of a multispectral GeoTIFF (or any GDAL raster)": (
        "未指定栅格：请给出多光谱 GeoTIFF（或 GDAL 可读的任意栅格）的路径"
    ),
    "raster {} does not exist: check the path": "栅格 {0} 不存在：请检查路径",
    "raster {} is a folder: give the path of a raster file": "栅格 {0} 是一个文件夹：请给出栅格文件的路径",
    "raster {} is a folder: give the path of a raster file inside it": (
        "栅格 {0} 是一个文件夹：请给出其中某个栅格文件的路径"
    ),
    "GDAL cannot open {} as a raster{}: give a GeoTIFF or another format GDAL reads": (
        "GDAL 无法将 {0} 作为栅格打开{1}：请使用 GeoTIFF 或其他 GDAL 可读的格式"
    ),
    "{} has no raster bands: give a multispectral raster": "{0} 没有栅格波段：请使用多光谱栅格",
    "{} holds {} sub-datasets: open one of them, e.g. {}": (
        "{0} 包含 {1} 个子数据集：请打开其中之一，例如 {2}"
    ),
    "{} has no georeferencing: polygons would have no location; georeference it first (QGIS Georeferencer "
    "or gdal_translate -a_ullr -a_srs)": (
        "{0} 没有地理参考，多边形将没有位置："
        "请先进行地理配准（QGIS 地理配准工具或 gdal_translate -a_ullr -a_srs）"
    ),
    "{} has a rotated geotransform: warp it north-up first with gdalwarp": (
        "{0} 的地理变换带有旋转：请先用 gdalwarp 重投影为正北朝上"
    ),
    "{} has a single band: extraction needs several bands (at least red, green, NIR or red, green, blue); "
    "stack them into one file, e.g. gdalbuildvrt -separate stack.vrt B*.tif": (
        "{0} 只有一个波段：提取需要多个波段（至少红、绿、近红外或红、绿、蓝）；"
        "请将它们叠加到一个文件中，例如 gdalbuildvrt -separate stack.vrt B*.tif"
    ),
    "{} needs the {} band(s), not found in {} (detected: {}): map them with --bands {}": (
        "{0} 需要 {1} 波段，但在 {2} 中未找到（已检测到：{3}）：请用 --bands 指定（{4}）"
    ),
    "GDAL could not read bands {} of {} at {}: the file may be truncated or corrupt; check it with "
    "gdalinfo -checksum": (
        "GDAL 无法读取 {1} 在 {2} 处的波段 {0}：文件可能被截断或损坏；请用 gdalinfo -checksum 检查"
    ),
    "unknown sensor preset '{}': use one of {} or leave it to detection": (
        "未知的传感器预设“{0}”：请使用 {1} 之一，或交给自动检测"
    ),
    "band mapping item '{}' has no '=': write it as role=band, e.g. red=3,nir=4": (
        "波段映射项“{0}”缺少“=”：请写成 角色=波段，例如 red=3,nir=4"
    ),
    "unknown band role '{}': use one of {}": "未知的波段角色“{0}”：请使用 {1} 之一",
    "band number '{}' for {} is not an integer: give the 1-based band index ({}=3)": (
        "{1} 的波段编号“{0}”不是整数：请给出从 1 开始的波段序号（{2}=3）"
    ),
    "band number {} for {} is invalid: band numbers start at 1": "{1} 的波段编号 {0} 无效：波段编号从 1 开始",
    "band role {} is mapped twice ({} and {}): keep one": (
        "波段角色 {0} 被映射了两次（{1} 和 {2}）：请只保留一个"
    ),
    "--bands {}={} is out of range: {} has {} band(s), use a number from 1 to {}": (
        "波段映射 {0}={1} 超出范围：{2} 只有 {3} 个波段，请使用 1 到 {4} 之间的编号"
    ),
    "band {} is mapped to {}: give each role its own band": (
        "波段 {0} 被同时映射为 {1}：每个角色请使用各自的波段"
    ),
    "sensor preset {} has {} bands but {} has {}: choose a matching preset (spex info --sensors) or map the "
    "bands with --bands red=N,nir=N": (
        "传感器预设 {0} 有 {1} 个波段，而 {2} 有 {3} 个：请选择匹配的预设，或用 --bands 指定波段"
    ),
    "scaling '{}' is not understood: use auto, {} or GAIN,OFFSET (e.g. 0.0001,-0.1)": (
        "无法识别缩放方式“{0}”：请使用 auto、{1} 或 增益,偏移（例如 0.0001,-0.1）"
    ),
    # area of interest
    "--aoi '{}' is neither xmin,ymin,xmax,ymax, a WKT polygon nor an existing vector file: fix it": (
        "感兴趣区域“{0}”既不是 xmin,ymin,xmax,ymax，也不是 WKT 多边形或已有的矢量文件：请修正"
    ),
    "{} CRS '{}' is not understood: give e.g. EPSG:4326, EPSG:32633 or WKT": (
        "无法识别 {0} 的坐标参考系“{1}”：请给出例如 EPSG:4326、EPSG:32633 或 WKT"
    ),
    "the AOI cannot be reprojected to the raster CRS: check the AOI's CRS": (
        "感兴趣区域无法重投影到栅格的坐标参考系：请检查感兴趣区域的坐标参考系"
    ),
    "AOI file {} does not exist: check the path": "感兴趣区域文件 {0} 不存在：请检查路径",
    "AOI file {} is not a vector file GDAL can read: give a GeoPackage, Shapefile or GeoJSON": (
        "感兴趣区域文件 {0} 不是 GDAL 可读的矢量文件：请使用 GeoPackage、Shapefile 或 GeoJSON"
    ),
    "AOI file {} contains no polygons: draw or select polygon features": (
        "感兴趣区域文件 {0} 不含多边形：请绘制或选择多边形要素"
    ),
    "the AOI has both {}: give only one of bbox, polygon or file": (
        "感兴趣区域同时给出了 {0}：请只给出范围框、多边形或文件之一"
    ),
    "the AOI polygon is not polygon WKT: give e.g. POLYGON((x y, x y, ...))": (
        "感兴趣区域多边形不是多边形 WKT：请给出例如 POLYGON((x y, x y, ...))"
    ),
    "{} is empty (zero area): give a polygon or bbox with an area": (
        "{0} 为空（面积为零）：请给出有面积的多边形或范围框"
    ),
    "{} is outside the raster (AOI {},{},{},{}, raster {},{},{},{} in the raster CRS): check the coordinates "
    "and the AOI CRS": (
        "{0} 位于栅格范围之外（在栅格坐标参考系中，感兴趣区域 {1},{2},{3},{4}，栅格 {5},{6},{7},{8}）："
        "请检查坐标和感兴趣区域的坐标参考系"
    ),
    "{} covers less than one pixel of the raster: give a larger area": (
        "{0} 覆盖不到栅格的一个像元：请给出更大的区域"
    ),
    "AOI bbox {} is not four numbers: give xmin,ymin,xmax,ymax": (
        "感兴趣区域范围框 {0} 不是四个数：请给出 xmin,ymin,xmax,ymax"
    ),
    "AOI bbox {},{},{},{} is invalid (need xmin < xmax and ymin < ymax): give it as xmin,ymin,xmax,ymax": (
        "感兴趣区域范围框 {0},{1},{2},{3} 无效（需要 xmin < xmax 且 ymin < ymax）"
        "：请按 xmin,ymin,xmax,ymax 给出"
    ),
    "the area of interest holds only no-data pixels: choose an area that overlaps valid data": (
        "感兴趣区域内只有无数据像元：请选择与有效数据重叠的区域"
    ),
    # rules and thresholds
    "no spectral rule for class {}: use one of {}": "类别 {0} 没有光谱规则：请使用 {1} 之一",
    "extracting {} needs the {} band(s), which this raster lacks or were not identified: map them with "
    "--bands (e.g. --bands {}=N) or use a raster that has them": (
        "提取{0}需要 {1} 波段，而该栅格没有这些波段或未能识别：请用 --bands 指定（例如 {2}=N），"
        "或使用包含这些波段的栅格"
    ),
    "threshold {} is not a number: give e.g. --threshold 0.2": "阈值 {0} 不是数字：请给出例如 0.2",
    "threshold {} is outside the {} range [{}, {}]: give a value inside it (default {})": (
        "阈值 {0} 超出 {1} 的取值范围 [{2}, {3}]：请给出范围内的值（默认 {4}）"
    ),
    "both a threshold and the Otsu method were given: pass either --threshold or --threshold-method otsu": (
        "同时给出了阈值和 Otsu 方法：请只使用固定阈值或 Otsu 方法之一"
    ),
    "the {} rule compares reflectance, but the band values are not in 0..1: set the reflectance scaling "
    "(--scaling s2, landsat-c2-l2 or gain,offset)": (
        "{0} 规则比较的是反射率，但波段值不在 0..1 之间：请设置反射率缩放（s2、landsat-c2-l2 或 增益,偏移）"
    ),
    "unknown threshold method {}: use fixed or otsu": "未知的阈值方法 {0}：请使用 fixed 或 otsu",
    "unknown threshold method {}: use one of {}": "未知的阈值方法 {0}：请使用 {1} 之一",
    "invalid threshold {}: give a finite number such as 0.1": "阈值 {0} 无效：请给出有限的数值，例如 0.1",
    "invalid minimum area {}: use 0 or a positive area in m2": (
        "最小面积 {0} 无效：请使用 0 或以 m² 计的正面积"
    ),
    "invalid minimum area {}: use 0 (keep all) or a positive area in m2": (
        "最小面积 {0} 无效：请使用 0（全部保留）或以 m² 计的正面积"
    ),
    "invalid simplify tolerance {}: use 0 or a positive map distance": (
        "简化容差 {0} 无效：请使用 0 或正的地图距离"
    ),
    "invalid simplify tolerance {}: use 0 (none) or a positive number of map units": (
        "简化容差 {0} 无效：请使用 0（不简化）或正的地图单位数"
    ),
    # engines
    "unknown engine {}: use one of {}": "未知引擎 {0}：请使用 {1} 之一",
    "the spex engine needs the SPEX model folder: pass --model DIR (or use --engine spectral, which needs no "
    "weights)": "spex 引擎需要 SPEX 模型文件夹：请指定模型文件夹（或使用无需权重的 spectral 引擎）",
    "model folder {} does not exist: point --model at the folder holding the SPEX config.json and weights": (
        "模型文件夹 {0} 不存在：请指向包含 SPEX config.json 和权重的文件夹"
    ),
    # missing packages (engines/spex_engine.py; environment errors, model_runtime/requirements.py)
    "the SPEX engine needs {}, not installed: run {} (or use --engine spectral)": (
        "SPEX 引擎需要 {0}，但未安装：请运行 {1}（或使用 spectral 引擎）"
    ),
    "import {} failed ({}): an installed package is broken or shadowed by an older copy; reinstall it with "
    "{} (in QGIS: Raster > SPEX > Install SPEX engine dependencies)": (
        "导入 {0} 失败（{1}）：某个已安装的包已损坏或被旧版本遮蔽；请用 {2} 重新安装"
        "（在 QGIS 中：栅格 > SPEX > 安装 SPEX 引擎依赖）"
    ),
    # outputs
    "output {} is the input raster: choose another output file": "输出 {0} 就是输入栅格：请选择其他输出文件",
    "unsupported output format {} for {}: use {}": "{1} 的输出格式 {0} 不受支持：请使用 {2}",
    "output {} is a folder: give a file name such as {}": "输出 {0} 是一个文件夹：请给出文件名，例如 {1}",
    "output {} is a folder: choose another output name": "输出 {0} 是一个文件夹：请选择其他输出名称",
    "output folder {} does not exist: create it or choose another output path": (
        "输出文件夹 {0} 不存在：请创建该文件夹或选择其他输出路径"
    ),
    "output {} already exists: pass --overwrite (overwrite=True) to replace it": (
        "输出 {0} 已存在：请确认覆盖后再替换它"
    ),
    "cannot write in folder {} ({}): choose a writable output location": (
        "无法写入文件夹 {0}（{1}）：请选择可写的输出位置"
    ),
    "preview folder {} does not exist: create it or choose another path": (
        "预览文件夹 {0} 不存在：请创建该文件夹或选择其他路径"
    ),
    "{} already exists: choose another name or allow overwriting": "{0} 已存在：请选择其他名称或允许覆盖",
    # sensor presets (bands.SENSOR_PRESETS titles), shown in the panel's sensor list
    "Sentinel-2 MSI L1C, 13 bands B01..B12 with B8A and B10": (
        "Sentinel-2 MSI L1C，13 个波段 B01..B12，含 B8A 和 B10"
    ),
    "Sentinel-2 MSI L2A, 12 bands B01..B12 with B8A (no B10)": (
        "Sentinel-2 MSI L2A，12 个波段 B01..B12，含 B8A（无 B10）"
    ),
    "Sentinel-2 10-band stack B02-B08, B8A, B11, B12 (10 + 20 m)": (
        "Sentinel-2 10 波段叠加 B02-B08、B8A、B11、B12（10 米 + 20 米）"
    ),
    "Sentinel-2 10 m stack B02, B03, B04, B08 (blue, green, red, NIR)": (
        "Sentinel-2 10 米叠加 B02、B03、B04、B08（蓝、绿、红、近红外）"
    ),
    "Landsat 8/9 OLI/TIRS Collection 2 Level-1, 11 bands B1..B11": (
        "Landsat 8/9 OLI/TIRS Collection 2 一级产品，11 个波段 B1..B11"
    ),
    "Landsat 8/9 Collection 2 Level-2 surface reflectance SR_B1..SR_B7": (
        "Landsat 8/9 Collection 2 二级地表反射率 SR_B1..SR_B7"
    ),
    "Landsat 5 TM / 7 ETM+ Level-1, bands B1..B7 (B6 thermal)": (
        "Landsat 5 TM / 7 ETM+ 一级产品，波段 B1..B7（B6 为热红外）"
    ),
    "Landsat 4-7 Collection 2 Level-2 surface reflectance SR_B1-5, SR_B7": (
        "Landsat 4-7 Collection 2 二级地表反射率 SR_B1-5、SR_B7"
    ),
    "4-band aerial red, green, blue, NIR (NAIP order)": "4 波段航空影像：红、绿、蓝、近红外（NAIP 顺序）",
    "3-band true colour red, green, blue": "3 波段真彩色：红、绿、蓝",
    "6-band blue, green, red, NIR, SWIR1, SWIR2 stack (sensor unknown)": (
        "6 波段叠加：蓝、绿、红、近红外、短波红外1、短波红外2（传感器未知）"
    ),
    # band detection notes (bands.detect_band_roles), shown under the panel's band summary
    "band {} also looks like {} ({}); band {} kept": "波段 {0} 看起来也是 {1}（{2}）；保留波段 {3}",
    "preset {} has {} bands, the raster {}: positions not used": (
        "预设 {0} 有 {1} 个波段，而栅格有 {2} 个：不按波段位置分配角色"
    ),
    "sensor {} from metadata; band roles from band names only": (
        "传感器 {0} 来自元数据；波段角色仅根据波段名称确定"
    ),
    "band {} was {}; now {} as mapped by the user": "波段 {0} 原为 {1}；现按用户映射改为 {2}",
    "{} (band {}) not used, as set by the user": "{0}（波段 {1}）按用户设置不使用",
    "no band roles detected: map them with --bands, e.g. --bands red=3,nir=4": (
        "未检测到波段角色：请用 --bands 指定，例如 red=3,nir=4"
    ),
    # progress stages shown under the panel's progress bar
    "opening raster": "正在打开栅格",
    "raster opened": "栅格已打开",
    "describing regions": "正在描述区域",
    "done": "完成",
    "preview ready": "预览已就绪",
    "writing polygons": "正在写出多边形",
    "histogram for Otsu": "正在计算 Otsu 直方图",
    "classifying pixels": "正在分类像元",
    "cleaning mask": "正在清理掩膜",
    "mask ready": "掩膜已就绪",
    "tracing polygons": "正在追踪多边形",
    "cleaning polygons": "正在清理多边形",
    "{} polygons": "{0} 个多边形",
    "computing the composite stretch": "正在计算合成拉伸",
    "loading the SPEX model": "正在加载 SPEX 模型",
    "SPEX tile {}/{}": "SPEX 瓦片 {0}/{1}",
    # area of interest (aoi.py)
    "the AOI cannot be reprojected to the raster CRS (points outside its domain?): check the AOI coordinates "
    "and its CRS": (
        "感兴趣区域无法重投影到栅格的坐标参考系（有点超出其定义域？）："
        "请检查感兴趣区域的坐标及其坐标参考系"
    ),
    "{} is not a valid polygon ({}): fix its rings": "{0} 不是有效的多边形（{1}）：请修正其环",
    # work folders and free space (atomic.py)
    "not enough space in folder {} ({}{}): free some space or write elsewhere": (
        "文件夹 {0} 空间不足（{1}{2}）：请释放一些空间或写到其他位置"
    ),
    "cannot create a work folder in {} ({}): free space there or set TMPDIR to a writable folder": (
        "无法在 {0} 中创建工作文件夹（{1}）：请释放该处的空间，或将 TMPDIR 设为可写的文件夹"
    ),
    # batch command line (batching/cli.py)
    "--aoi-crs given without --aoi: add --aoi xmin,ymin,xmax,ymax or drop --aoi-crs": (
        "给出了 --aoi-crs 但没有 --aoi：请添加 --aoi xmin,ymin,xmax,ymax 或去掉 --aoi-crs"
    ),
    # batch workers (batching/cluster.py)
    "--workers {} is invalid: use 1 or more (or leave it out)": (
        "--workers {0} 无效：请使用 1 或更大的数（或不指定）"
    ),
    "cannot reach the dask scheduler at {} ({}): start it (dask scheduler) or drop --scheduler / "
    "DASK_SCHEDULER_ADDRESS to use local workers": (
        "无法连接位于 {0} 的 dask 调度器（{1}）：请启动它（dask scheduler），"
        "或去掉 --scheduler / DASK_SCHEDULER_ADDRESS 以使用本地工作进程"
    ),
    "batch extraction needs dask.distributed, not installed: run {}": (
        "批量提取需要 dask.distributed，但未安装：请运行 {0}"
    ),
    # batch inputs (batching/inputs.py)
    "no raster found in {} (patterns {}): check the folder, glob or list, or pass --pattern": (
        "在 {0} 中未找到栅格（匹配模式 {1}）：请检查文件夹、通配符或列表，或指定 --pattern"
    ),
    "input {} does not exist: check the path(s)": "输入 {0} 不存在：请检查路径",
    "chunk size {} is too small: use at least 64 pixels (e.g. 4096)": (
        "分块大小 {0} 太小：请至少使用 64 像元（例如 4096）"
    ),
    "{} has a rotated geotransform: chunking needs a north-up raster; warp it first (gdalwarp) or run it "
    "without --chunk-size": (
        "{0} 的地理变换带有旋转：分块需要正北朝上的栅格；"
        "请先重投影（gdalwarp），或不带 --chunk-size 运行"
    ),
    # batch manifest (batching/manifest.py)
    "batch manifest {} is unreadable ({}): move it away to start the batch afresh": (
        "批处理清单 {0} 无法读取（{1}）：请将其移走，以重新开始批处理"
    ),
    # chunk mosaic (batching/mosaic.py)
    "unexpected {} in a chunk output: re-run the batch": "分块输出中出现了意外的 {0}：请重新运行批处理",
    "a chunk output is not on the raster's pixel grid (simplified or edited?): delete the batch's chunks "
    "folder and re-run": (
        "某个分块输出不在栅格的像元网格上（被简化或编辑过？）："
        "请删除该批处理的分块文件夹后重新运行"
    ),
    # batch runner (batching/runner.py)
    'no prompt given: pass --prompt "extract the water bodies" (once per prompt)': (
        "未给出提示词：请指定 --prompt \"extract the water bodies\"（每个提示词一次）"
    ),
    "no output folder given: pass --output-dir FOLDER": "未给出输出文件夹：请指定 --output-dir FOLDER",
    "output folder {} is a file: choose a folder": "输出文件夹 {0} 是一个文件：请选择文件夹",
    "output folder {} is not writable: choose a writable folder": (
        "输出文件夹 {0} 不可写：请选择可写的文件夹"
    ),
    "merged output {} is not a .gpkg: the merged layer is a GeoPackage": (
        "合并输出 {0} 不是 .gpkg：合并图层为 GeoPackage 格式"
    ),
    "merged output {} already exists: pass --overwrite or choose --merged": (
        "合并输出 {0} 已存在：请指定 --overwrite，或用 --merged 另选"
    ),
    "cannot create the output folder {} ({}): choose a writable folder": (
        "无法创建输出文件夹 {0}（{1}）：请选择可写的文件夹"
    ),
    "--aoi and --chunk-size together are not supported: clip the raster (gdal_translate -projwin) or drop "
    "one of them": (
        "不支持同时使用 --aoi 和 --chunk-size：请裁剪栅格（gdal_translate -projwin）或去掉其中之一"
    ),
    "the Otsu threshold is computed over the area extracted, so every chunk would get its own: give "
    "--threshold, or drop --chunk-size": (
        "Otsu 阈值按提取的区域计算，每个分块会得到各自的阈值：请给出 --threshold，或去掉 --chunk-size"
    ),
    # dataset paths (gdal_paths.py)
    "{} {} is {}, not a regular file: give the path of a file": (
        "{0} {1} 是 {2}，不是普通文件：请给出文件的路径"
    ),
    "no {} given: pass the path of a file GDAL reads": "未给出{0}：请给出 GDAL 可读文件的路径",
    "{} {} is a {} web service description: {}": "{0} {1} 是 {2} 网络服务描述：{3}",
    "VRT {} includes itself (through {} file(s)): fix its SourceFilename entries": (
        "VRT {0} 包含了自身（经过 {1} 个文件）：请修正其 SourceFilename 条目"
    ),
    "VRT {} nests more than {} VRTs: flatten it": "VRT {0} 嵌套了超过 {1} 层 VRT：请将其展平",
    "{} {} does not exist: check the path": "{0} {1} 不存在：请检查路径",
    "{} {} cannot be read ({}): check the path": "{0} {1} 无法读取（{2}）：请检查路径",
    "{} {} is on the network: {}": "{0} {1} 位于网络上：{2}",
    "{} {} does not exist (GDAL virtual path): check the path": (
        "{0} {1} 不存在（GDAL 虚拟路径）：请检查路径"
    ),
    "VRT {} is larger than 64 MB: is it really a VRT file?": "VRT {0} 大于 64 MB：它真的是 VRT 文件吗？",
    "VRT {} is not valid XML ({}): fix or rebuild it with gdalbuildvrt": (
        "VRT {0} 不是有效的 XML（{1}）：请修正，或用 gdalbuildvrt 重新生成"
    ),
    "VRT {} cannot be read ({}): check the file": "VRT {0} 无法读取（{1}）：请检查该文件",
    "VRT {} reads {} over the network: {}": "VRT {0} 通过网络读取 {1}：{2}",
    # extraction pipeline (pipeline.py)
    "the work folder {} is full{}: free space there or point TMPDIR at a folder with room for the mask "
    "(about one byte per pixel)": (
        "工作文件夹 {0} 已满{1}：请释放该处的空间，"
        "或将 TMPDIR 指向有足够空间存放掩膜的文件夹（每像元约一个字节）"
    ),
    "invalid pixel limit {}: give 0 (no limit) or a positive number": (
        "像元上限 {0} 无效：请给出 0（不限制）或正数"
    ),
    "the area to process is {} x {} = {} pixels, more than the {} pixel limit: {}, or raise the limit with "
    "--max-pixels N (0: no limit)": (
        "待处理区域为 {0} x {1} = {2} 个像元，超过了 {3} 像元的上限：{4}，"
        "或用 --max-pixels N 提高上限（0：不限制）"
    ),
    "{} has no CRS and GeoJSON is defined in WGS 84: assign one (gdal_translate -a_srs EPSG:XXXX) or write "
    ".gpkg or .shp": (
        "{0} 没有坐标参考系，而 GeoJSON 以 WGS 84 定义：请为其指定坐标参考系"
        "（gdal_translate -a_srs EPSG:XXXX），或写出为 .gpkg 或 .shp"
    ),
    # prompts (prompts.py)
    "the prompt is {} characters long, more than {}: name the class in a short sentence": (
        "提示词长 {0} 个字符，超过了 {1} 个：请用一句简短的话说明类别"
    ),
    "the prompt holds bytes that are not valid UTF-8: type it as UTF-8 text": (
        "提示词包含无效的 UTF-8 字节：请以 UTF-8 文本输入"
    ),
    # raster reading (raster.py)
    "GDAL could not read {}{}{}: the file (or a VRT source) may be truncated, corrupt or missing; check it "
    "with gdalinfo -checksum": (
        "GDAL 无法读取 {0}{1}{2}：该文件（或某个 VRT 源）可能被截断、损坏或缺失；"
        "请用 gdalinfo -checksum 检查"
    ),
    "the raster's CRS cannot be written as WKT: assign an EPSG CRS with gdal_translate -a_srs": (
        "栅格的坐标参考系无法写为 WKT：请用 gdal_translate -a_srs 指定 EPSG 坐标参考系"
    ),
    "raster {} is a folder without band files of standard names (..._B04.jp2, ..._SR_B4.TIF): give the path "
    "of a raster file inside it or a Sentinel-2 SAFE / Landsat product folder": (
        "栅格 {0} 是一个文件夹，但其中没有标准命名的波段文件（..._B04.jp2、..._SR_B4.TIF）："
        "请给出其中某个栅格文件的路径，或 Sentinel-2 SAFE / Landsat 产品文件夹"
    ),
    "{} has an invalid geotransform {} (non-finite or zero pixel size): fix its georeferencing, e.g. "
    "gdal_translate -a_ullr xmin ymax xmax ymin": (
        "{0} 的地理变换 {1} 无效（像元大小非有限值或为零）：请修正其地理参考，"
        "例如 gdal_translate -a_ullr xmin ymax xmax ymin"
    ),
    "band {} of {} holds complex numbers (radar/interferometry data): give reflectance bands, or convert "
    "with gdal_translate -ot Float32 after taking the amplitude": (
        "{1} 的波段 {0} 包含复数（雷达/干涉测量数据）：请使用反射率波段，"
        "或先取振幅后用 gdal_translate -ot Float32 转换"
    ),
    # vector outputs (writers.py)
    "the raster has no CRS and GeoJSON ({}) is defined in WGS 84: assign the raster a CRS (gdal_translate "
    "-a_srs EPSG:XXXX) or write .gpkg or .shp": (
        "栅格没有坐标参考系，而 GeoJSON（{0}）以 WGS 84 定义：请为栅格指定坐标参考系"
        "（gdal_translate -a_srs EPSG:XXXX），或写出为 .gpkg 或 .shp"
    ),
    "output {} appeared while the job ran and was kept: pass --overwrite to replace it or choose another "
    "name": (
        "输出 {0} 在任务运行期间出现，已予保留：请指定 --overwrite 以替换它，或选择其他名称"
    ),
    "output {} exists and is not a regular file (a FIFO, socket or device): choose another output name": (
        "输出 {0} 已存在且不是普通文件（FIFO、套接字或设备）：请选择其他输出名称"
    ),
}


# The QGIS panel's English: the runtime's fixes name CLI flags; the panel has a control for each of them.
PANEL_EN: Dict[str, str] = {
    "{} needs the {} band(s), not found in {} (detected: {}): map them with --bands {}": (
        "{0} needs the {1} band(s), not found in {2} (detected: {3}): pick them in Band mapping"
    ),
    "extracting {} needs the {} band(s), which this raster lacks or were not identified: map them with "
    "--bands (e.g. --bands {}=N) or use a raster that has them": (
        "extracting {0} needs the {1} band(s), which this raster lacks or were not identified: pick them in "
        "Band mapping or use a raster that has them"
    ),
    "--bands {}={} is out of range: {} has {} band(s), use a number from 1 to {}": (
        "band {1} for {0} is out of range: {2} has {3} band(s); pick one from 1 to {4} in Band mapping"
    ),
    "sensor preset {} has {} bands but {} has {}: choose a matching preset (spex info --sensors) or map the "
    "bands with --bands red=N,nir=N": (
        "sensor preset {0} has {1} bands but {2} has {3}: choose a matching Sensor or pick the bands in "
        "Band mapping"
    ),
    "no band roles detected: map them with --bands, e.g. --bands red=3,nir=4": (
        "no band roles detected: pick them in Band mapping"
    ),
    "threshold {} is not a number: give e.g. --threshold 0.2": "threshold {0} is not a number: give e.g. 0.2",
    "both a threshold and the Otsu method were given: pass either --threshold or --threshold-method otsu": (
        "both a threshold and the Otsu method were chosen: tick Class default or choose the Fixed method"
    ),
    "the {} rule compares reflectance, but the band values are not in 0..1: set the reflectance scaling "
    "(--scaling s2, landsat-c2-l2 or gain,offset)": (
        "the {0} rule compares reflectance, but the band values are not in 0..1: set Reflectance scaling "
        "(Threshold and filters) to s2, landsat-c2-l2 or GAIN,OFFSET"
    ),
    "the spex engine needs the SPEX model folder: pass --model DIR (or use --engine spectral, which needs no "
    "weights)": "the SPEX engine needs its model folder: pick it under Engine, or use the spectral engine",
    "the SPEX engine needs {}, not installed: run {} (or use --engine spectral)": (
        "the SPEX engine needs {0}, not installed: run {1}, or pick the spectral engine"
    ),
}


@cache
def _compiled(catalogue: str) -> List[Tuple[re.Pattern, str, int]]:
    """(regex, translated template, field count) per entry, most specific (longest literal text) first."""
    compiled = []
    for template, translated in {"zh": ZH, "panel-en": PANEL_EN}[catalogue].items():
        literals = template.split("{}")
        regex = "(.*?)".join(re.escape(part.replace("{{", "{").replace("}}", "}")) for part in literals)
        compiled.append((re.compile(regex + r"\Z", re.DOTALL), translated, len(literals) - 1, len(template)))
    compiled.sort(key=lambda item: -item[3])
    return [(regex, translated, fields) for regex, translated, fields, _length in compiled]


def localize(
    message: str, language: str | None, panel: bool = False, labels: Mapping[str, str] | None = None
) -> str:
    """``message`` in ``language`` ("zh"/"zh_CN"/"zh-Hans"...: Chinese; anything else: English).

    ``panel``: English fixes name the QGIS panel's controls instead of CLI flags (Chinese does both).
    ``labels``: option name -> the front end's word for it; the CLI flags left in the message are replaced
    by them (see :func:`render_options`). Unknown messages come back unchanged.
    """
    if not message:
        return message
    if (language or "").lower().startswith("zh"):
        message = _translate(message, "zh", depth=0)
    elif panel:
        message = _translate(message, "panel-en", depth=2)
    return render_options(message, labels) if labels else message


def render_options(message: str, labels: Mapping[str, str]) -> str:
    """``message`` with each CLI flag of an option (``--threshold``, see ``options.CLI_FLAGS``)
    replaced by ``labels[option]`` in quotes: how the panel or a Processing dialog names the option. Flags
    of options missing from ``labels`` stay as they are."""
    from .options import CLI_FLAGS

    words = {flag: labels[option] for option, flag in CLI_FLAGS.items() if option in labels}

    def replace(match: re.Match) -> str:
        label = words.get(match.group(0))
        return f"“{label}”" if label else match.group(0)

    return _FLAG.sub(replace, message)


_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*[a-z](?![\w-])")


def _translate(message: str, catalogue: str, depth: int) -> str:
    for regex, translated, _fields in _compiled(catalogue):
        match = regex.match(message)
        if match:
            fields = [_translate(v, catalogue, depth + 1) if depth < 2 else v for v in match.groups()]
            return translated.format(*fields)
    return message


# ------------------------------------------------------------------------------------------------------------
# The neural model (model_runtime/spex/**), the spex engine (engines/spex_engine.py) and the batch workers.
# One block, appended, so that the catalogue's other sections merge without conflict.
ZH.update(
    {
        # batch workers (batching/cluster.py)
        "batch extraction needs dask.distributed, not installed: run {}": (
            "批量提取需要 dask.distributed，但尚未安装：请运行 {0}"
        ),
        # spex engine: dependencies and warnings (engines/spex_engine.py)
        "import {} failed ({}): an installed package is broken or shadowed by an older copy; reinstall it "
        "with {} (in QGIS: Raster > SPEX > Install SPEX engine dependencies)": (
            "导入 {0} 失败（{1}）：某个已安装的包已损坏或被旧版本遮蔽；请用 {2} 重新安装（在 QGIS 中：栅格 > "
            "SPEX > 安装 SPEX 引擎依赖）"
        ),
        "the SPEX engine needs {}, not installed: run {} (or use --engine spectral)": (
            "SPEX 引擎需要 {0}，但尚未安装：请运行 {1}（或改用 spectral 引擎）"
        ),
        "no spectral attributes for the prompt ({}); the model sees the image only": (
            "提示词没有光谱属性（{0}）；模型只看到影像"
        ),
        "{} small spectral region(s) were left out of the SPIE prompts (at most {} per tile, none under "
        "{} px)": "有 {0} 个较小的光谱区域未写入 SPIE 提示词（每个瓦片最多 {1} 个，且不少于 {2} 像元）",
        "some tile answers reached max_new_tokens={} and end mid-sentence": (
            "部分瓦片的回答达到 max_new_tokens={0} 上限，在句中截断"
        ),
        # device and precision (spex/loading/device.py)
        "the SPEX engine needs PyTorch, which is not installed: run {} (or use --engine spectral)": (
            "SPEX 引擎需要 PyTorch，但尚未安装：请运行 {0}（或改用 spectral 引擎）"
        ),
        "dtype '{}' is not understood: use auto, float32, float16 or bfloat16": (
            "无法识别数据类型“{0}”：请使用 auto、float32、float16 或 bfloat16"
        ),
        "device '{}' is not understood: use auto, cpu, cuda or cuda:N (e.g. cuda:0)": (
            "无法识别设备“{0}”：请使用 auto、cpu、cuda 或 cuda:N（例如 cuda:0）"
        ),
        "device '{}' takes no index: use auto, cpu, cuda or cuda:N": (
            "设备“{0}”不带编号：请使用 auto、cpu、cuda 或 cuda:N"
        ),
        "device '{}' was requested but {}: use --device cpu or install a CUDA build of torch": (
            "请求了设备“{0}”，但{1}：请改用 CPU 设备，或安装支持 CUDA 的 torch"
        ),
        "this PyTorch build has no CUDA": "此 PyTorch 版本不支持 CUDA",
        "no CUDA GPU is visible": "看不到任何 CUDA GPU",
        "dtype float16 is not supported on the CPU: use float32 (default) or bfloat16": (
            "CPU 不支持 float16：请使用 float32（默认）或 bfloat16"
        ),
        "device '{}' does not exist: this machine has {} CUDA GPU(s), use {}": (
            "设备“{0}”不存在：本机有 {1} 块 CUDA GPU，请使用 {2}"
        ),
        "unsupported dtype {}: use float32, float16 or bfloat16": (
            "不支持的数据类型 {0}：请使用 float32、float16 或 bfloat16"
        ),
        "precision '{}' is not understood: use auto, fp32, fp16, bf16 or int8": (
            "无法识别精度“{0}”：请使用 auto、fp32、fp16、bf16 或 int8"
        ),
        "precision int8 runs on the CPU only: use --precision auto (bf16/fp16) on a GPU, or --device cpu "
        "--precision int8": (
            "int8 精度只能在 CPU 上运行：GPU 上请使用 auto 精度（bf16/fp16），或选择 CPU 设备与 int8"
        ),
        # checkpoint integrity (spex/loading/integrity.py, safetensors_header.py)
        "the cached ONNX vision encoder {} is corrupt ({}): it is rebuilt on next use, or run spex "
        "export-onnx --force": (
            "缓存的 ONNX 视觉编码器 {0} 已损坏（{1}）：下次使用时会重建，或运行 spex export-onnx --force"
        ),
        "{} lists an invalid shard name {}: {}": "{0} 列出了无效的分片名 {1}：{2}",
        "{} lists shard {} outside the model folder: {}": "{0} 列出了模型文件夹之外的分片 {1}：{2}",
        "shard {} in {} is a link to {}, outside the model folder: copy the folder with its files (cp "
        "-rL) or set {}=1 if you trust that link": (
            "{1} 中的分片 {0} 是指向模型文件夹之外 {2} 的链接：请连同文件复制该文件夹（cp -rL），"
            "或在信任该链接时设置 {3}=1"
        ),
        "{}: tensor {} holds NaN/Inf values, so the checkpoint is broken: re-download it (or re-export it "
        "from the original weights)": (
            "{0}：张量 {1} 含有 NaN/Inf 值，检查点已损坏：请重新下载（或从原始权重重新导出）"
        ),
        "{} describes a model of {} GiB of weights, more than this machine's {} GiB of memory: use the "
        "config.json shipped with the SPEX model (re-download it), or a machine with more memory": (
            "{0} 描述的模型权重为 {1} GiB，超过本机 {2} GiB 的内存：请使用 SPEX 模型自带的 "
            "config.json（重新下载），或换用内存更大的机器"
        ),
        "cannot read {} ({}): the file is corrupt or incomplete, re-download it": (
            "无法读取 {0}（{1}）：文件已损坏或不完整，请重新下载"
        ),
        # LoRA checkpoints (spex/loading/lora.py)
        "{} is a LoRA checkpoint: also give the base model folder it was trained on (base_model_dir / "
        "--model-base{})": (
            "{0} 是 LoRA 检查点：还需指定其训练所基于的基础模型文件夹（base_model_dir / --model-base{1}）"
        ),
        ", e.g. {}": "，例如 {0}",
        "base model folder {} does not exist: point to the base checkpoint": (
            "基础模型文件夹 {0} 不存在：请指向基础检查点"
        ),
        "LoRA folder {} has no {}: copy it next to adapter_config.json": (
            "LoRA 文件夹 {0} 中没有 {1}：请将其复制到 adapter_config.json 旁"
        ),
        "{} in {} lacks a valid 'r'/'lora_alpha': re-download it": (
            "{1} 中的 {0} 缺少有效的 'r'/'lora_alpha'：请重新下载"
        ),
        "LoRA folder {} has no adapter_model.safetensors or adapter_model.bin: copy the adapter weights "
        "next to adapter_config.json": (
            "LoRA 文件夹 {0} 中没有 adapter_model.safetensors 或 adapter_model.bin：请将适配器权重复制到 "
            "adapter_config.json 旁"
        ),
        "adapter has {} unsupported tensor(s) ({}): merge it with the official merge_lora.py first": (
            "适配器含有 {0} 个不支持的张量（{1}）：请先用官方 merge_lora.py 合并"
        ),
        "adapter targets {}, which the SPEX model does not have (or lacks lora_A/B): use the adapter "
        "trained for this checkpoint": (
            "适配器作用于 {0}，而 SPEX 模型没有该模块（或缺少 lora_A/B）：请使用为此检查点训练的适配器"
        ),
        "adapter delta for {} has shape {}, expected {}: use the adapter trained for this checkpoint": (
            "{0} 的适配器增量形状为 {1}，应为 {2}：请使用为此检查点训练的适配器"
        ),
        # GPU placement and int8 (spex/loading/placement.py, quantize.py)
        "SPEX_GPU_MEMORY_GIB={} is not a number: give GiB, e.g. SPEX_GPU_MEMORY_GIB=6": (
            "SPEX_GPU_MEMORY_GIB={0} 不是数字：请以 GiB 为单位给出，例如 SPEX_GPU_MEMORY_GIB=6"
        ),
        "SPEX_GPU_MEMORY_GIB={} must be positive, e.g. SPEX_GPU_MEMORY_GIB=6": (
            "SPEX_GPU_MEMORY_GIB={0} 必须为正数，例如 SPEX_GPU_MEMORY_GIB=6"
        ),
        "the model does not fit in GPU memory and 'accelerate' is missing: {}, or use --device cpu": (
            "GPU 显存放不下模型，且缺少 'accelerate'：请运行 {0}，或改用 CPU 设备"
        ),
        "this PyTorch build has no int8 CPU backend (fbgemm/qnnpack): use --precision fp32": (
            "此 PyTorch 版本没有 int8 CPU 后端（fbgemm/qnnpack）：请使用 fp32 精度"
        ),
        "quantization {} is not supported: use int8 (or none)": "不支持量化方式 {0}：请使用 int8（或不量化）",
        "int8 runs on the CPU with a float32 model (got {} {}): use --precision auto on a GPU (bf16/fp16) "
        "or --device cpu": (
            "int8 需在 CPU 上配合 float32 模型运行（当前为 {0} {1}）：GPU 上请使用 auto 精度（bf16/fp16），"
            "或改用 CPU 设备"
        ),
        # checkpoint tensors (spex/loading/tensors.py, checkpoint.py)
        "cannot parse {} ({}): re-download the checkpoint's index file": (
            "无法解析 {0}（{1}）：请重新下载检查点的索引文件"
        ),
        "missing shard file(s) {} in {}: download every file of the checkpoint": (
            "{1} 中缺少分片文件 {0}：请下载检查点的全部文件"
        ),
        "no weights in {} (neither {} nor {}): point to the SPEX checkpoint folder with its .safetensors "
        "files": "{0} 中没有权重（既没有 {1} 也没有 {2}）：请指向含 .safetensors 文件的 SPEX 检查点文件夹",
        "{} does not match the SPEX architecture of its config.json: {}: use a complete SPEX checkpoint "
        "with its own config.json": (
            "{0} 与其 config.json 描述的 SPEX 结构不符：{1}：请使用带有自身 config.json 的完整 SPEX 检查点"
        ),
        "cannot parse {} ({}): re-download this file of the model": (
            "无法解析 {0}（{1}）：请重新下载模型的这个文件"
        ),
        "{} is not a JSON object: re-download this file of the model": (
            "{0} 不是 JSON 对象：请重新下载模型的这个文件"
        ),
        "cannot read {} safely ({}): it must be a plain tensor state dict; re-download it": (
            "无法安全读取 {0}（{1}）：它必须是普通的张量状态字典；请重新下载"
        ),
        "{} is not a tensor state dict: re-download it": "{0} 不是张量状态字典：请重新下载",
        "{} lacks tensor {} listed in {}: re-download the checkpoint (shards and index must match)": (
            "{0} 缺少 {2} 中列出的张量 {1}：请重新下载检查点（分片与索引必须一致）"
        ),
        "{} ended early while reading {}: re-download it": "读取 {1} 时 {0} 提前结束：请重新下载",
        "model folder {} does not exist: point --model to the downloaded SPEX checkpoint folder": (
            "模型文件夹 {0} 不存在：请指向已下载的 SPEX 检查点文件夹"
        ),
        "no tokenizer in {} (need tokenizer.json or vocab.json + merges.txt): copy the tokenizer files "
        "shipped with the model into the folder": (
            "{0} 中没有分词器（需要 tokenizer.json 或 vocab.json + merges.txt）："
            "请将模型自带的分词器文件复制到该文件夹"
        ),
        "cannot load the tokenizer in {} ({}: {}): re-download the tokenizer files": (
            "无法加载 {0} 中的分词器（{1}：{2}）：请重新下载分词器文件"
        ),
        "the tokenizer in {} has no {} token: use the Qwen2 tokenizer files shipped with the model": (
            "{0} 中的分词器没有 {1} 标记：请使用模型自带的 Qwen2 分词器文件"
        ),
        # config.json (spex/modeling/config.py)
        "unsupported mm_projector_type {} in config.json: SPEX uses 'mlp2x_gelu'": (
            "config.json 中的 mm_projector_type {0} 不受支持：SPEX 使用 'mlp2x_gelu'"
        ),
        "config.json is not a JSON object: use the config.json shipped with the model": (
            "config.json 不是 JSON 对象：请使用模型自带的 config.json"
        ),
        "config.json has model_type {}, expected 'llava_qwen': point to a SPEX checkpoint folder": (
            "config.json 的 model_type 为 {0}，应为 'llava_qwen'：请指向 SPEX 检查点文件夹"
        ),
        "config.json lacks {}: use the config.json shipped with the model": (
            "config.json 缺少 {0}：请使用模型自带的 config.json"
        ),
        "config.json field {}={} is not a positive integer: use the config.json shipped with the model": (
            "config.json 字段 {0}={1} 不是正整数：请使用模型自带的 config.json"
        ),
        "config.json field {}={} is implausibly large (limit {}): use the config.json shipped with the "
        "model": "config.json 字段 {0}={1} 大得不合理（上限 {2}）：请使用模型自带的 config.json",
        "config.json: hidden_size is not divisible by num_attention_heads: use the config.json shipped "
        "with the model": (
            "config.json：hidden_size 不能被 num_attention_heads 整除：请使用模型自带的 config.json"
        ),
        "config.json: mm_hidden_size {} differs from the vision aggregator width {}: use the config.json "
        "shipped with the model": (
            "config.json：mm_hidden_size {0} 与视觉聚合器宽度 {1} 不一致：请使用模型自带的 config.json"
        ),
        "no config.json in {}: point to the SPEX checkpoint folder (the one holding config.json)": (
            "{0} 中没有 config.json：请指向 SPEX 检查点文件夹（包含 config.json 的那个）"
        ),
        "cannot parse {} ({}): re-download config.json": "无法解析 {0}（{1}）：请重新下载 config.json",
        "invalid {} in config.json ({}): use the config.json shipped with the model": (
            "config.json 中的 {0} 无效（{1}）：请使用模型自带的 config.json"
        ),
        # generation (spex/modeling/modeling.py, preprocess.py)
        "this model has no torch vision encoder: load it with SpexModel.from_pretrained(folder)": (
            "此模型没有 torch 视觉编码器：请用 SpexModel.from_pretrained(folder) 加载"
        ),
        "the model has no tokenizer: load it with SpexModel.from_pretrained(folder)": (
            "模型没有分词器：请用 SpexModel.from_pretrained(folder) 加载"
        ),
        "the prompt must contain '<image>' exactly once (found {}): start it with '<image>\\n' followed "
        "by the question": (
            "提示词必须恰好包含一次 '<image>'（实际 {0} 次）：请以 '<image>\\n' 开头，后接问题"
        ),
        "pixel_values must have shape [1, 3, {}, {}], got {}: use model_runtime.spex.normalize_image": (
            "pixel_values 的形状必须为 [1, 3, {0}, {1}]，实际为 {2}：请使用 "
            "model_runtime.spex.normalize_image"
        ),
        "vision_features must be (feat_agg, image_embeddings): pass both outputs of the vision encoder": (
            "vision_features 必须为 (feat_agg, image_embeddings)：请传入视觉编码器的两个输出"
        ),
        "vision_features {} has shape {}, expected {}: pass the outputs of this checkpoint's vision "
        "encoder": "vision_features {0} 的形状为 {1}，应为 {2}：请传入此检查点视觉编码器的输出",
        "max_new_tokens={} is too small: SPEX needs at least 2 generated tokens to build the mask prompt "
        "(use 64 or more)": (
            "max_new_tokens={0} 太小：SPEX 至少需要生成 2 个标记才能构建掩膜提示（请使用 64 或更多）"
        ),
        "generate() needs pixel_values or vision_features: pass the normalised 512x512 tile": (
            "generate() 需要 pixel_values 或 vision_features：请传入归一化的 512x512 瓦片"
        ),
        "prompt is {} tokens (incl. 1024 image tokens) + {} new tokens, over the model's {}: shorten the "
        "prompt (fewer region attributes)": (
            "提示词为 {0} 个标记（含 1024 个影像标记）+ {1} 个新标记，超过模型的 {2}："
            "请缩短提示词（减少区域属性）"
        ),
        "SPEX_DECODE=graph needs the whole model on a CUDA GPU: use SPEX_DECODE=auto or eager": (
            "SPEX_DECODE=graph 需要整个模型位于 CUDA GPU 上：请使用 SPEX_DECODE=auto 或 eager"
        ),
        "SPEX_DECODE={} is not understood: use {}": "无法识别 SPEX_DECODE={0}：请使用 {1}",
        "expected an RGB image [H, W, 3], got shape {}: pass a 3-band composite": (
            "需要 RGB 影像 [H, W, 3]，实际形状为 {0}：请传入三波段合成影像"
        ),
        "expected a {}x{} tile, got {}x{}: cut or pad the image into 512 x 512 tiles": (
            "需要 {0}x{1} 的瓦片，实际为 {2}x{3}：请将影像裁切或填充为 512 x 512 的瓦片"
        ),
        "expected uint8 RGB, got {}: stretch the composite to 0..255 first": (
            "需要 uint8 RGB，实际为 {0}：请先将合成影像拉伸到 0..255"
        ),
        # ONNX export and the vision-encoder runtimes (spex/runtime/onnx_export.py, vision_runtime.py)
        "{} is unreadable ({}): re-download the model": "{0} 无法读取（{1}）：请重新下载模型",
        "model shard {} is missing in {}: re-download the complete model folder": (
            "{1} 中缺少模型分片 {0}：请重新下载完整的模型文件夹"
        ),
        "no *.safetensors weights in {}: point --model at the SPEX model folder": (
            "{0} 中没有 *.safetensors 权重：请指向 SPEX 模型文件夹"
        ),
        "no vision encoder weights ({}*) in {}: this is not a SPEX checkpoint": (
            "{1} 中没有视觉编码器权重（{0}*）：这不是 SPEX 检查点"
        ),
        "{} is truncated: re-download the model": "{0} 不完整（被截断）：请重新下载模型",
        "exporting the vision encoder needs {}: run {}": "导出视觉编码器需要 {0}：请运行 {1}",
        "opset {} is too old for GridSample: use --opset {} or newer": (
            "opset {0} 过旧，不支持 GridSample：请使用 --opset {1} 或更新版本"
        ),
        "ONNX output {} has shape {}, torch {}: report this bug": (
            "ONNX 输出 {0} 的形状为 {1}，torch 为 {2}：请报告此缺陷"
        ),
        "model folder {} does not exist: point --model at the SPEX model folder": (
            "模型文件夹 {0} 不存在：请指向 SPEX 模型文件夹"
        ),
        "{} is a LoRA checkpoint: its vision encoder (in non_lora_trainables.bin) runs in torch, there is "
        "nothing to export; use the merged checkpoint folder to get an ONNX encoder": (
            "{0} 是 LoRA 检查点：其视觉编码器（位于 non_lora_trainables.bin）在 torch 中运行，无需导出；如需 "
            "ONNX 编码器，请使用合并后的检查点文件夹"
        ),
        "cannot write the ONNX export to {} nor {}: set SPEX_CACHE_DIR to a writable folder": (
            "无法将 ONNX 导出写入 {0} 或 {1}：请将 SPEX_CACHE_DIR 设为可写文件夹"
        ),
        "the ONNX export of the vision encoder disagrees with torch ({}: relative difference {} > {}): "
        "set SPEX_VISION_BACKEND=torch and report this bug": (
            "视觉编码器的 ONNX 导出与 torch 不一致（{0}：相对差异 {1} > {2}）：请设置 "
            "SPEX_VISION_BACKEND=torch 并报告此缺陷"
        ),
        "SPEX_ONNX_GPU_PRECISION={} is not understood: use auto, fp16 or fp32": (
            "无法识别 SPEX_ONNX_GPU_PRECISION={0}：请使用 auto、fp16 或 fp32"
        ),
        "SPEX_ONNX_CUDA_GRAPH={} is not understood: use auto, 1 or 0": (
            "无法识别 SPEX_ONNX_CUDA_GRAPH={0}：请使用 auto、1 或 0"
        ),
        "this CUDA-graph ONNX encoder was captured for {}, got {}: set SPEX_ONNX_CUDA_GRAPH=0": (
            "此 CUDA 图 ONNX 编码器按 {0} 捕获，实际为 {1}：请设置 SPEX_ONNX_CUDA_GRAPH=0"
        ),
        "fp16 {} differs from fp32 by {} (> {})": "fp16 的 {0} 与 fp32 相差 {1}（> {2}）",
        "SPEX_VISION_BACKEND={} is not understood: use auto, onnx or torch": (
            "无法识别 SPEX_VISION_BACKEND={0}：请使用 auto、onnx 或 torch"
        ),
        "SPEX_VISION_BACKEND=onnx but onnxruntime is not installed: {}": (
            "SPEX_VISION_BACKEND=onnx，但未安装 onnxruntime：请运行 {0}"
        ),
        "onnxruntime is not installed (pip install onnxruntime): the vision encoder runs in torch": (
            "未安装 onnxruntime（pip install onnxruntime）：视觉编码器在 torch 中运行"
        ),
        "no ONNX vision encoder ({}): it runs in torch": "没有 ONNX 视觉编码器（{0}）：改在 torch 中运行",
    }
)


def one_line(text: object) -> str:
    """``text`` as one line: every run of whitespace (newlines included) becomes one space, ends trimmed.
    The one rule the CLI, the plugin's task and the Processing algorithms use to show a message."""
    return " ".join(str(text).split())
