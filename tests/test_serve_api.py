"""The web app's JSON API on a tiny gallery searched by the fake model (fastapi.testclient)."""

import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from personsearch.serve.app import create_app  # noqa: E402
from serve_fixtures import GREEN, RED, fake_service, paint_gallery, png_bytes, text_checkpoint  # noqa: E402


@pytest.fixture
def gallery(tmp_path):
    return paint_gallery(tmp_path)


@pytest.fixture
def client(gallery):
    return TestClient(create_app(fake_service(gallery), max_upload_bytes=64 * 1024))


def test_page_and_facts_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and '<canvas id="query-canvas"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "fetch(" in client.get("/static/app.js").text
    assert "/api/search" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 404  # its explorer would load scripts from a CDN
    info = client.get("/api/info").json()
    assert info == {"name": "photos", "pictures": 2, "people": 4, "videos": 0, "text_search": False,
                    "runtime": "pytorch", "detector": "model", "max_upload_bytes": 65536, "max_top_k": 100}
    assert client.get("/api/pictures").json() == {"total": 2, "offset": 0, "names": ["a.png", "b.png"]}
    assert client.get("/api/pictures?offset=1&limit=5").json()["names"] == ["b.png"]


def test_search_with_an_uploaded_picture_ranks_the_same_colour_first(client):
    response = client.post("/api/search", data={"box": "2,2,38,58", "top_k": "3"},
                           files={"image": ("query.png", png_bytes([RED, GREEN]), "image/png")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == "image" and [hit["rank"] for hit in body["hits"]] == [1, 2, 3]
    first = body["hits"][0]
    assert first["picture"] == "b.png" and first["box"] == [32.0, 0.0, 64.0, 48.0]
    assert first["score"] == pytest.approx(1.0, abs=1e-3)
    assert first["picture_url"] == "/api/picture?name=b.png" and first["timestamp"] is None
    scores = [hit["score"] for hit in body["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_search_with_a_gallery_picture(client):
    # the left person of a.png is green: the only green person is itself
    body = client.post("/api/search", data={"box": "0,0,32,48", "picture": "a.png", "top_k": "1"}).json()
    assert [(hit["picture"], hit["box"]) for hit in body["hits"]] == [("a.png", [0.0, 0.0, 32.0, 48.0])]


@pytest.mark.parametrize(
    ("data", "files", "status", "message"),
    [
        ({"box": "2,2,38"}, "png", 400, "four numbers"),
        ({"box": "2,2,380,58"}, "png", 400, "outside the query image"),
        ({"box": "30,2,20,58"}, "png", 400, "degenerate"),
        ({"box": "2,2,38,58"}, None, 400, "exactly one query picture"),
        ({"box": "2,2,38,58", "picture": "a.png"}, "png", 400, "exactly one query picture"),
        ({"box": "2,2,38,58", "picture": "../query.png"}, None, 404, "no picture named"),
        ({"box": "2,2,38,58"}, ("q.txt", b"hello", "text/plain"), 415, "not a supported picture"),
        ({"box": "2,2,38,58"}, ("q.jpg", b"GIF89a-not-really", "image/jpeg"), 415, "not a readable picture"),
        ({"box": "2,2,38,58"}, ("q.jpg", "png", "image/jpeg"), 415, "but the file is PNG"),
        ({"box": "2,2,38,58", "top_k": "0"}, "png", 422, ""),
    ],
)
def test_bad_queries_get_clear_errors(client, data, files, status, message):
    if files == "png":
        files = ("query.png", png_bytes([RED, GREEN]), "image/png")
    elif files is not None and files[1] == "png":
        files = (files[0], png_bytes([RED, GREEN]), files[2])
    response = client.post("/api/search", data=data, files={"image": files} if files else None)
    assert response.status_code == status, response.text
    assert message in str(response.json()["detail"])


def test_uploads_over_the_limit_are_refused(client):
    noise = np.random.default_rng(0).integers(0, 256, size=(200, 200, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")  # ~120 KB: over the 64 KiB limit, under the request cap
    response = client.post("/api/search", data={"box": "2,2,38,58"},
                           files={"image": ("big.png", buffer.getvalue(), "image/png")})
    assert response.status_code == 413 and "upload limit" in response.json()["detail"]
    huge = client.post("/api/search", data={"box": "2,2,38,58"},
                       files={"image": ("huge.png", b"\0" * (300 * 1024), "image/png")})
    assert huge.status_code == 413 and "upload limit" in huge.json()["detail"]


def test_only_gallery_pictures_are_served(client, gallery):
    picture = client.get("/api/picture", params={"name": "a.png"})
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(picture.content)) as image:
        assert image.size == (64, 48)
    (gallery.parent / "secret.txt").write_text("not for the web")
    for name in ["../secret.txt", "../query.png", str(gallery / "a.png"), "/etc/passwd", "a.png/../../secret.txt",
                 "./a.png", ".personsearch_index.npz", "", "..%2fsecret.txt"]:
        response = client.get("/api/picture", params={"name": name})
        assert response.status_code in (404, 422), name
        assert "not for the web" not in response.text
    for path in ["/static/../../pyproject.toml", "/static/%2e%2e/app.py", "/static/..%2fservice.py",
                 "/api/picture?name=..%2Fsecret.txt", "/%2e%2e/secret.txt"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "not for the web" not in response.text and "SearchService" not in response.text


def test_video_hits_carry_frames_and_timestamps(tmp_path, monkeypatch):
    cv2 = pytest.importorskip("cv2")
    video_dir = tmp_path / "videos"
    video_dir.mkdir()
    writer = cv2.VideoWriter(str(video_dir / "cam.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 48))
    for i in range(6):
        frame = np.zeros((48, 64, 3), dtype=np.uint8)
        frame[:, :32] = (40, 40, 220) if i == 4 else (200, 200, 200)  # BGR: frame 4 holds a red person
        writer.write(frame)
    writer.release()
    client = TestClient(create_app(fake_service(video_dir / "cam.avi", frame_stride=2)))
    assert client.get("/api/info").json()["videos"] == 1
    body = client.post("/api/search", data={"box": "2,2,38,58", "top_k": "1"},
                       files={"image": ("q.png", png_bytes([RED, GREEN]), "image/png")}).json()
    hit = body["hits"][0]
    assert hit["picture"] == "cam.avi#frame000004" and hit["frame"] == 4
    # the hits' frames were decoded with the search: fetching them decodes no video again
    from personsearch.serve import service

    monkeypatch.setattr(service.media, "open_images", lambda locations: pytest.fail("decoded the video again"))
    assert hit["time_s"] == pytest.approx(0.8) and hit["timestamp"] == "0:00:00.8"
    frame = client.get(hit["picture_url"])
    assert frame.status_code == 200
    with Image.open(io.BytesIO(frame.content)) as image:
        assert image.size == (64, 48) and image.getpixel((10, 10))[0] > 150  # red
    monkeypatch.undo()
    assert client.get("/api/picture", params={"name": "cam.avi#frame000003"}).status_code == 404  # not indexed
    assert client.get("/api/picture", params={"name": "cam.avi#frame000002"}).status_code == 200


def test_text_search(gallery, tmp_path):
    from personsearch.api import TextSearcher

    client = TestClient(create_app(fake_service(gallery)))
    response = client.post("/api/text-search", json={"description": "a man in red"})
    assert response.status_code == 501 and "--text-checkpoint" in response.json()["detail"]

    text_searcher = TextSearcher(checkpoint=text_checkpoint(tmp_path / "text.pth"), device="cpu", progress=False)
    text_searcher.index(gallery)
    client = TestClient(create_app(fake_service(gallery, text_searcher=text_searcher)))
    assert client.get("/api/info").json()["text_search"] is True
    body = client.post("/api/text-search", json={"description": "a man in a red coat", "top_k": 5}).json()
    assert body["query"] == "text"
    assert sorted(hit["picture"] for hit in body["hits"]) == ["a.png", "b.png"]  # whole pictures are the crops
    expected = text_searcher.search("a man in a red coat", top_k=5)
    assert [hit["score"] for hit in body["hits"]] == pytest.approx([hit.score for hit in expected])
    assert client.get(body["hits"][0]["picture_url"]).status_code == 200
    for bad in ({"description": ""}, {"description": "x", "top_k": 101}, {"top_k": 3}):
        assert client.post("/api/text-search", json=bad).status_code == 422


def test_serve_command_binds_to_localhost_by_default(gallery, tmp_path, monkeypatch, capsys):
    import sys
    import types

    import uvicorn

    from personsearch import cli
    from test_index_fake_model import FakeSearchModel

    module = types.ModuleType("personsearch.models.search_model")
    module.load_search_model = lambda path, device="cpu": FakeSearchModel()
    monkeypatch.setitem(sys.modules, "personsearch.models.search_model", module)
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kwargs: served.update(app=app, host=host, port=port))
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(b"fake weights")
    argv = ["serve", "--gallery", str(gallery), "--checkpoint", str(checkpoint), "--max-upload-mb", "1",
            "--score-threshold", "0.88"]
    assert cli.main(argv) == 0
    assert (served["host"], served["port"]) == ("127.0.0.1", 8765)
    assert "open http://localhost:8765/" in capsys.readouterr().out
    info = TestClient(served["app"]).get("/api/info").json()
    assert info["pictures"] == 2 and info["max_upload_bytes"] == 1024 * 1024
    assert info["people"] == 3  # the fake model scores the green person 220/255 = 0.86, the others 0.90
    # a saved index serves without reindexing; another host is announced
    assert cli.main(argv[:2] + [str(gallery / ".personsearch_index.npz")] + argv[3:] + ["--host", "0.0.0.0"]) == 0
    assert served["host"] == "0.0.0.0" and "other computers can reach" in capsys.readouterr().out
    assert cli.main(["serve", "--gallery", str(tmp_path / "missing"), "--checkpoint", str(checkpoint)]) == 1
    assert "not found" in capsys.readouterr().err
