import zipfile

from local_services.archives import unpack_zip


def test_unpack_keeps_execute_bits_and_drops_the_top_folder(tmp_path):
    archive = tmp_path / "dist.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        script = zipfile.ZipInfo("dist-1.0/bin/run")
        script.external_attr = 0o755 << 16
        zipped.writestr(script, "#!/bin/sh\n")
        zipped.writestr("dist-1.0/config/app.yml", "a: 1\n")
    unpack_zip(archive, "dist-1.0", tmp_path / "home")
    assert (tmp_path / "home" / "bin" / "run").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "home" / "config" / "app.yml").read_text() == "a: 1\n"
    assert not (tmp_path / "home.partial").exists()
