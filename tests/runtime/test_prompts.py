"""Prompt parsing: English/Chinese keywords, noise words, ambiguity and unknown targets."""

import pytest

from model_runtime.errors import SpexInputError
from model_runtime.prompts import SUPPORTED_CLASSES, detect_language, parse_prompt


@pytest.mark.parametrize(
    ("text", "cls"),
    [
        ("extract the water bodies", "water"),
        ("Extract the WATER BODIES!!", "water"),
        ("find all rivers and lakes", "water"),
        ("please find the ponds, reservoirs.", "water"),
        ("sea", "water"),
        ("Map the forests", "vegetation"),
        ("trees", "vegetation"),
        ("grass and crops", "vegetation"),
        ("extract buildings", "building"),
        ("built-up areas", "building"),
        ("urban settlements", "building"),
        ("roofs", "building"),
        ("bare soil", "bare_soil"),
        ("extract the bare land", "bare_soil"),
        ("sand", "bare_soil"),
        ("clouds", "cloud"),
        ("snow and ice", "snow"),
        ("提取水体", "water"),
        ("请提取图中的河流和湖泊", "water"),
        ("提取水库", "water"),
        ("提取植被", "vegetation"),
        ("提取森林和草地", "vegetation"),
        ("提取水稻田", "vegetation"),
        ("请提取建筑", "building"),
        ("提取上海的房屋", "building"),
        ("提取城市建成区", "building"),
        ("提取裸土", "bare_soil"),
        ("提取裸地。", "bare_soil"),
        ("extract 水体 please", "water"),
    ],
)
def test_prompt_classes(text, cls):
    target = parse_prompt(text)
    assert target.target_class == cls
    assert target.phrase == " ".join(text.split())


def test_language_detection_and_override():
    assert parse_prompt("提取水体").language == "zh"
    assert parse_prompt("extract the water bodies").language == "en"
    assert parse_prompt("extract the water bodies", language="zh").language == "zh"
    assert detect_language("水") == "zh" and detect_language("water") == "en"
    with pytest.raises(SpexInputError, match="language"):
        parse_prompt("water", language="fr")


def test_class_phrases_for_spex_prompt():
    assert parse_prompt("lakes").class_phrase == "water bodies"
    assert parse_prompt("植被").class_phrase == "vegetation"


@pytest.mark.parametrize("text", ["xyz", "extract the cars", "提取汽车", "!!!", "the"])
def test_unknown_target_lists_supported_classes(text):
    with pytest.raises(SpexInputError) as err:
        parse_prompt(text)
    msg = str(err.value)
    assert "\n" not in msg
    assert "no supported land-cover class" in msg
    assert "water" in msg and "vegetation" in msg and "bare soil" in msg
    assert "extract the water bodies" in msg


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_prompt(text):
    with pytest.raises(SpexInputError, match="empty prompt"):
        parse_prompt(text)


@pytest.mark.parametrize("text", ["water and vegetation", "提取水体和建筑", "forest or buildings"])
def test_two_classes_is_ambiguous(text):
    with pytest.raises(SpexInputError, match="one class") as err:
        parse_prompt(text)
    assert "\n" not in str(err.value)


def test_negation_does_not_crash():
    # negation is out of scope: the class named is still found
    assert parse_prompt("not the water").target_class == "water"


def test_supported_classes():
    assert {"water", "vegetation", "building", "bare_soil"} <= set(SUPPORTED_CLASSES)
