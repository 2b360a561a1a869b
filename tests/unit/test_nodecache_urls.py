"""The node cache's pure parts: which URLs it will even look at, and how the operator tells runner
pods where it is (task.nodeCache)."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from gavel_contract import Task
from gavel_contract.languages import builtin_languages, resolve
from gavel_operator import jobs
from gavel_operator.objectstore import ObjectStore
from gavel_operator.resources import EvaluationSpec
from gavel_operator.settings import Settings
from gavel_runner.nodecache import Refused, normal_origin, origin

SIGNED = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=k%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
          "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature=abc")


def test_a_presigned_url_names_its_origin_and_object():
    assert origin(f"http://MinIO.gavel:9000/gavel/ns/p/1.in?{SIGNED}") == (
        "http://minio.gavel:9000", "/gavel/ns/p/1.in", SIGNED)
    assert origin(f"https://s3.example.com/b/k?{SIGNED}")[0] == "https://s3.example.com:443"
    assert normal_origin("minio.gavel:9000") == "http://minio.gavel:9000"
    assert normal_origin("https://s3.example.com") == "https://s3.example.com:443"


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://minio:21/b/k?X-Amz-Signature=1", "http://minio:9000/b/k",  # not presigned
    f"http://minio:9000/b/k?{SIGNED}&versionId=1", f"http://minio:9000/b/k?{SIGNED}&partNumber=1",
    f"http://minio:9000/b/k?{SIGNED}&response-content-type=x",  # would change what is served
    "http://minio:9000/b/k?X-Amz-Date=1",  # no signature
    f"http://u:p@minio:9000/b/k?{SIGNED}", f"http://minio:9000/b/k?{SIGNED}#f",
    f"http://minio:9000/b/../k?{SIGNED}", f"http://minio:99999/b/k?{SIGNED}", "x" * 9000, "",
])
def test_anything_else_is_refused_before_any_connection(url):
    with pytest.raises(Refused):
        origin(url)


def test_the_operator_hands_runner_pods_the_cache_address():
    spec = EvaluationSpec.model_validate({"language": "cpp", "submission": {"key": "s"},
                                          "tests": [{"name": "1", "input": {"key": "1.in"}, "expected": {"key": "1.out"}}]})
    settings = Settings(storage_access_key="k", storage_secret_key="s")
    lang = builtin_languages()["cpp"]
    where = jobs.placement(spec, "ns", "e", "uid", settings)
    build = lambda s: jobs.build_task("ns/e", spec, lang, lang.default_version(), where, ObjectStore(s), s,  # noqa: E731
                                      timedelta(hours=1))
    assert "nodeCache" not in build(settings).document()  # no cache: a task an older runner reads too
    cached = settings.model_copy(update={"node_cache": "http://gavel-cache.gavel-system.svc.cluster.local:8090"})
    assert '"nodeCache":"http://gavel-cache.gavel-system.svc.cluster.local:8090"' in build(cached).document()
    assert Settings.from_env({"GAVEL_NODE_CACHE": "http://c:8090"}).node_cache == "http://c:8090"


@pytest.mark.parametrize("value", ["file:///x", "http://c:8090/path", "https://c", "http://a b"])
def test_the_task_takes_only_an_http_host_and_port(value):
    lang, ver = resolve("python")
    with pytest.raises(ValidationError):
        Task(language=ver, languageName=lang.name, submission="s", nodeCache=value,
             tests=[{"name": "1", "input": "i", "expected": "e"}])
