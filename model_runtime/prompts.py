"""Free-text prompt (English or Chinese) -> the land-cover class to extract.

Matching is keyword based and deliberately forgiving: case, plurals, punctuation and filler words such as
"extract", "please find all", "提取", "请提取" do not matter. A prompt naming two different classes is
ambiguous and rejected; a prompt naming none is rejected with the list of supported classes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Dict, List, Tuple

from .errors import SpexInputError

#: class -> (English keywords, Chinese keywords). English keywords are matched on whole words after
#: normalisation (lower case, plural "s"/"es" stripped); multi-word keywords match as phrases.
_KEYWORDS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    "water": (
        (
            "water",
            "waterbody",
            "water body",
            "river",
            "lake",
            "pond",
            "reservoir",
            "sea",
            "ocean",
            "stream",
            "canal",
            "lagoon",
            "wetland",
            "estuary",
            "bay",
            "creek",
            "inland water",
            "open water",
            "surface water",
            "watercourse",
            "coastline water",
            "fishpond",
            "aquaculture pond",
        ),
        (
            "水体",
            "水域",
            "河流",
            "河道",
            "湖泊",
            "湖水",
            "池塘",
            "水库",
            "海洋",
            "海域",
            "海水",
            "水面",
            "运河",
            "湿地",
            "江河",
            "溪流",
            "水塘",
            "鱼塘",
            "坑塘",
            "水",
        ),
    ),
    "vegetation": (
        (
            "vegetation",
            "forest",
            "tree",
            "wood",
            "woodland",
            "grass",
            "grassland",
            "crop",
            "cropland",
            "farmland",
            "field",
            "meadow",
            "shrub",
            "shrubland",
            "greenery",
            "green space",
            "green area",
            "park",
            "canopy",
            "orchard",
            "vegetated area",
            "agriculture",
            "pasture",
            "lawn",
            "paddy",
        ),
        (
            "植被",
            "森林",
            "树木",
            "树林",
            "林地",
            "草地",
            "草坪",
            "农田",
            "耕地",
            "作物",
            "庄稼",
            "灌木",
            "绿地",
            "植物",
            "草原",
            "树",
            "草",
            "果园",
            "水稻",
            "稻田",
        ),
    ),
    "building": (
        (
            "building",
            "built-up",
            "built up",
            "builtup",
            "roof",
            "rooftop",
            "house",
            "urban",
            "settlement",
            "city",
            "town",
            "village",
            "construction",
            "impervious",
            "impervious surface",
            "residential",
            "industrial",
            "man-made",
            "structure",
            "housing",
            "dwelling",
        ),
        (
            "建筑",
            "建筑物",
            "房屋",
            "房子",
            "城市",
            "城镇",
            "居民地",
            "居民区",
            "建成区",
            "屋顶",
            "村庄",
            "楼",
            "不透水面",
            "人工地表",
            "城区",
        ),
    ),
    "bare_soil": (
        (
            "bare soil",
            "bare land",
            "bare ground",
            "bareland",
            "soil",
            "sand",
            "desert",
            "barren",
            "dirt",
            "bare earth",
            "exposed soil",
            "fallow",
            "dune",
            "bare",
        ),
        ("裸土", "裸地", "裸露地", "裸露土壤", "沙地", "沙漠", "荒地", "土壤", "沙", "戈壁"),
    ),
    "cloud": (
        ("cloud", "cloudy", "cloud cover"),
        ("云", "云层", "云量"),
    ),
    "snow": (
        ("snow", "ice", "glacier", "snow cover", "snowfield", "ice sheet", "frost"),
        ("雪", "冰", "积雪", "冰川", "冰雪"),
    ),
}

#: the class names shown to users (and in errors), in this order
SUPPORTED_CLASSES: Tuple[str, ...] = tuple(_KEYWORDS)

#: the phrase that goes into the SPEX neural prompt ("... attributes of the {phrase} regions ...")
CLASS_PHRASES: Dict[str, str] = {
    "water": "water bodies",
    "vegetation": "vegetation",
    "building": "buildings",
    "bare_soil": "bare soil",
    "cloud": "clouds",
    "snow": "snow and ice",
}

#: human names (for messages and explanations)
CLASS_NAMES: Dict[str, Dict[str, str]] = {
    "en": {
        "water": "water",
        "vegetation": "vegetation",
        "building": "buildings / built-up",
        "bare_soil": "bare soil",
        "cloud": "clouds",
        "snow": "snow / ice",
    },
    "zh": {
        "water": "水体",
        "vegetation": "植被",
        "building": "建筑 / 建成区",
        "bare_soil": "裸土",
        "cloud": "云",
        "snow": "冰雪",
    },
}

_ZH_PLACE_NAMES = (
    "上海",
    "云南",
    "河北",
    "河南",
    "湖北",
    "湖南",
    "海南",
    "江苏",
    "江西",
    "浙江",
    "黑龙江",
    "青海",
    "海口",
    "珠海",
    "威海",
    "北海",
    "洱海",
    "云浮",
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_HELP = "ask for one of water, vegetation, building, bare soil, cloud, snow (e.g. 'extract the water bodies')"


@dataclass(frozen=True)
class PromptTarget:
    """What the prompt asks for: the class, the prompt's language, the prompt itself and the SPEX phrase."""

    target_class: str  # one of SUPPORTED_CLASSES
    language: str  # "en" | "zh"
    phrase: str  # the user's prompt, stripped
    class_phrase: str  # English phrase for the neural prompt, e.g. "water bodies"


def detect_language(text: str) -> str:
    """``"zh"`` when the text contains CJK ideographs, else ``"en"``."""
    return "zh" if _CJK.search(text or "") else "en"


def _singular(word: str) -> str:
    """Crude English singular: enough for land-cover nouns (bodies->body, trees->tree, marshes->marsh)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _normalise_en(text: str) -> str:
    """Lower case, hyphens/punctuation -> spaces, each word singular; ' w1 w2 ... ' for phrase search."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " " + " ".join(_singular(w) for w in re.findall(r"[a-z]+", text)) + " "


def _matches_en(norm: str) -> Dict[str, List[str]]:
    hits: Dict[str, List[str]] = {}
    for cls, (en, _zh) in _KEYWORDS.items():
        for kw in en:
            if _normalise_en(kw) in norm:
                hits.setdefault(cls, []).append(kw)
    return hits


def _matches_zh(text: str) -> Dict[str, List[str]]:
    hits: Dict[str, List[str]] = {}
    # longest keywords first, and each match consumes its characters, so "水库" is not also read as "水"
    # and "沙漠" is not also "沙"; a generic single character only counts when nothing longer claimed it.
    all_kw = sorted(
        ((kw, cls) for cls, (_en, zh) in _KEYWORDS.items() for kw in zh), key=lambda t: -len(t[0])
    )
    remaining = text
    for place in _ZH_PLACE_NAMES:  # province names that contain class characters (上海, 云南, 湖北...)
        remaining = remaining.replace(place, " " * len(place))
    for kw, cls in all_kw:
        if kw in remaining:
            hits.setdefault(cls, []).append(kw)
            remaining = remaining.replace(kw, " " * len(kw))
    return hits


def _resolve(hits: Dict[str, List[str]], text: str) -> str | None:
    if not hits:
        return None
    if len(hits) == 1:
        return next(iter(hits))
    # "snow" + "water" ("snow melt water") or "sand" in "sandy river": an explicit multi-word/longer keyword
    # cannot disambiguate reliably, so ask the user for one class.
    classes = ", ".join(sorted(c.replace("_", " ") for c in hits))
    raise SpexInputError(
        f"prompt {text!r} names several land-cover classes ({classes}): ask for one class per extraction"
    )


#: longest prompt accepted (characters): a prompt names a class, not a document
MAX_PROMPT_CHARS = 1000


def clean_prompt(text) -> str:
    """The prompt on one line: control characters (ESC, BEL, TAB, newlines...) become spaces, runs of
    whitespace one space. SpexInputError for an empty prompt, one holding bytes that are not valid UTF-8
    (lone surrogates from raw argv bytes) or one longer than :data:`MAX_PROMPT_CHARS`."""
    if text is None or not str(text).strip():
        raise SpexInputError(f"empty prompt: {_HELP}")
    text = str(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SpexInputError(
            "the prompt holds bytes that are not valid UTF-8: type it as UTF-8 text"
        ) from None
    if len(text) > MAX_PROMPT_CHARS:
        raise SpexInputError(
            f"the prompt is {len(text)} characters long, more than {MAX_PROMPT_CHARS}: name the class in a "
            "short sentence"
        )
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    phrase = " ".join(text.split())
    if not phrase:
        raise SpexInputError(f"empty prompt: {_HELP}")
    return phrase


def parse_prompt(text: str, language: str | None = None) -> PromptTarget:
    """Parse a free-text prompt into a :class:`PromptTarget`.

    ``language`` ("en"/"zh") forces the explanation language; by default it follows the prompt (any CJK
    ideograph -> "zh"). Raises :class:`SpexInputError` for an empty, unknown or ambiguous prompt.
    """
    phrase = clean_prompt(text)
    if language is not None and language not in ("en", "zh"):
        raise SpexInputError(f"unknown language {language!r}: use 'en' or 'zh'")
    lang = language or detect_language(phrase)

    hits = _matches_zh(phrase) if _CJK.search(phrase) else {}
    en_hits = _matches_en(_normalise_en(phrase))
    for cls, kws in en_hits.items():
        hits.setdefault(cls, []).extend(kws)
    cls = _resolve(hits, phrase)
    if cls is None:
        raise SpexInputError(f"no supported land-cover class in prompt {phrase!r}: {_HELP}")
    return PromptTarget(target_class=cls, language=lang, phrase=phrase, class_phrase=CLASS_PHRASES[cls])


def class_name(target_class: str, language: str = "en") -> str:
    """Human name of a class in ``language`` (falls back to English)."""
    return CLASS_NAMES.get(language, CLASS_NAMES["en"]).get(target_class, target_class)
