"""The command line: --help everywhere, settings validated, meaningful exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from pipeline_common.environment import PROJECT_ROOT, SettingsError, child_environment
from producer.cli import main
from producer.settings import DEFAULT_FRAMES, DEFAULT_NEW_PICS, ProducerSettings

MAIN = PROJECT_ROOT / "producer" / "main_producer.py"
COMMANDS = ["prepare", "publish", "run", "watch", "backfill"]
SERVICE_ENV = {
    "S3_ACCESS_KEY": "a",
    "S3_SECRET_KEY": "b",
    "PRODUCER_KAFKA_USERNAME": "u",
    "PRODUCER_KAFKA_PASSWORD": "p",
}


def run_main(*args, env=None):
    environment = {"PATH": child_environment()["PATH"], "PIPELINE_DOTENV": "/nonexistent", **(env or {})}
    return subprocess.run(
        [sys.executable, str(MAIN), *args], capture_output=True, text=True, env=environment, timeout=60
    )


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*([command] if command else []), "--help"])
    assert exit.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.process
def test_the_script_runs_from_anywhere(tmp_path):
    result = subprocess.run(
        [sys.executable, str(MAIN), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "prepare" in result.stdout


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as exit:
        main(["upload"])
    assert exit.value.code == 2


@pytest.mark.process
def test_prepare_needs_no_credentials_and_reports_failures(tmp_path):
    new_pics, frames = tmp_path / "in", tmp_path / "out"
    new_pics.mkdir()
    Image.new("RGB", (20, 10), (1, 2, 3)).save(new_pics / "ok.png")
    result = run_main("prepare", "--new-pics", str(new_pics), "--frames", str(frames), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert len(list(frames.glob("*.jpg"))) == 1

    (new_pics / "broken.webp").write_bytes(b"RIFF....WEBPjunk")
    result = run_main("prepare", "--new-pics", str(new_pics), "--frames", str(frames), "--no-progress")
    assert result.returncode == 1
    assert "broken.webp" in result.stderr


@pytest.mark.process
def test_publish_without_credentials_is_a_configuration_error(tmp_path):
    result = run_main("publish", "--frames", str(tmp_path))
    assert result.returncode == 2
    assert "S3_ACCESS_KEY" in result.stderr


@pytest.mark.parametrize(
    "name, value",
    [
        ("PRODUCER_VIDEO_FPS", "0"),
        ("PRODUCER_MAX_SIDE", "big"),
        ("PRODUCER_JPEG_QUALITY", "101"),
        ("KAFKA_IMAGES_TOPIC_PARTITIONS", "0"),
        ("PRODUCER_SOURCE", "x" * 1001),  # the API could list it, but not take it as a filter
    ],
)
def test_bad_settings_are_refused_with_their_name(name, value):
    with pytest.raises(SettingsError, match=name):
        ProducerSettings.from_env({**SERVICE_ENV, name: value})


@pytest.mark.process
def test_bad_setting_exits_2():
    result = run_main("prepare", env={"PRODUCER_VIDEO_FPS": "-1"})
    assert result.returncode == 2 and "PRODUCER_VIDEO_FPS" in result.stderr


def test_defaults_and_overrides():
    settings = ProducerSettings.from_env(SERVICE_ENV)
    assert (settings.new_pics_dir, settings.frames_dir) == (DEFAULT_NEW_PICS, DEFAULT_FRAMES)
    assert (settings.max_side, settings.video_fps, settings.topic_partitions) == (1280, 1.0, 3)
    assert settings.kafka.images_topic == "images"
    custom = ProducerSettings.from_env(
        {
            **SERVICE_ENV,
            "PRODUCER_NEW_PICS_DIR": "/data/in",
            "PRODUCER_SOURCE": "lobby",
            "PRODUCER_CREATE_TOPIC": "false",
        }
    )
    assert custom.new_pics_dir == Path("/data/in") and custom.source == "lobby" and not custom.create_topic
    assert custom.source_for(Path("/data/in/cam/x.jpg")) == "lobby"
    assert ProducerSettings.from_env({}, without=("s3", "kafka")).s3 is None


def test_source_is_the_first_subfolder(tmp_path):
    settings = ProducerSettings(s3=None, kafka=None, new_pics_dir=tmp_path / "pics")
    assert settings.source_for(tmp_path / "pics" / "garage" / "day1" / "a.jpg") == "garage"
    assert settings.source_for(tmp_path / "pics" / "a.jpg") == "pics"
