"""Contests in the operator, without a cluster: the Book of judgements kept from the watch (a rejudge,
a deletion, a name created again, namespaces apart), the debounced rebuilds on asyncio, the list-then-watch
loop on a fake API server, where the files go, and one rebuild end to end with a fake API and storage."""

import asyncio
import json
from datetime import datetime, timezone

import pytest

from gavel_operator import contests, listwatch
from gavel_operator.contestbook import Book, Rebuilds, next_boundary, ranked, scoreboard_files, storage_of
from gavel_operator.resources import ContestSpec
from gavel_operator.settings import Settings
from gavel_operator.state import STATE

NOW = datetime(2026, 5, 1, 11, 0, tzinfo=timezone.utc)
SPEC = ContestSpec.model_validate({
    "problems": [{"label": "A", "problem": "sum"}, {"label": "B", "problem": "diff"}],
    "window": {"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T15:00:00Z", "freeze": "2026-05-01T14:00:00Z"}})


def ev(name, participant="p1", problem="sum", verdict=None, *, ns="team", contest="c1", minute=5, uid=None,
       submission=None, phase=None, progress=None, score=None):
    labels = {"gavel.dev/contest": contest} if contest else {}
    if participant:
        labels["gavel.dev/participant"] = participant
    if submission:
        labels["gavel.dev/submission"] = submission
    status = {}
    if verdict:
        status = {"phase": phase or "Succeeded", "verdict": verdict, **({"score": score} if score is not None else {})}
    elif phase:
        status = {"phase": phase}
    if progress:
        status["progress"] = {"done": progress, "total": 4}
    return {"metadata": {"namespace": ns, "name": name, "uid": uid or f"uid-{name}", "labels": labels,
                         "creationTimestamp": f"2026-05-01T10:{minute:02d}:00Z"},
            "spec": {"problem": problem, "language": "python"}, "status": status}


# ---- the Book -----------------------------------------------------------------------------------

def test_an_event_changes_its_contest_only_when_the_judgement_changes():
    book = Book()
    assert book.observe(ev("e1")) == {("team", "c1")}
    assert book.observe(ev("e1", phase="Running", progress=1)) == set()  # progress: nothing a scoreboard shows
    assert book.observe(ev("e1", phase="Running", progress=3)) == set()
    assert book.observe(ev("e1", verdict="Accepted")) == {("team", "c1")}
    assert book.observe(ev("e1", verdict="Accepted")) == set()  # the finished label, a callback's condition
    [j] = book.judgements(("team", "c1"))
    assert (j.participant, j.problem, j.verdict.value) == ("p1", "sum", "Accepted")


def test_only_contest_submissions_are_held():
    book = Book()
    assert book.observe(ev("no-contest", contest=None)) == set()
    assert book.observe(ev("no-participant", participant=None)) == set()
    assert book.observe(ev("inline-tests", problem=None)) == set()
    assert len(book) == 0
    book.observe(ev("e1"))
    assert book.observe(ev("e1", phase="Canceled")) == {("team", "c1")}  # canceled: not a submission
    assert book.judgements(("team", "c1")) == [] and book.contests() == set()


def test_namespaces_never_mix():
    """Tenancy: a contest sees its namespace's Evaluations only, however the others label theirs."""
    book = Book()
    book.observe(ev("e1", ns="team"))
    assert book.observe(ev("e1", ns="intruder", participant="p9", verdict="Accepted")) == {("intruder", "c1")}
    assert [j.participant for j in book.judgements(("team", "c1"))] == ["p1"]
    assert book.forget("intruder", "e1") == {("intruder", "c1")}
    assert [j.participant for j in book.judgements(("team", "c1"))] == ["p1"]


def test_a_rejudge_replaces_the_old_judgement_in_the_standings():
    book = Book()
    book.observe(ev("e1", verdict="TestFailed", submission="s1", minute=5))
    book.observe(ev("e1-rejudge", submission="s1", minute=30))  # created again: pending replaces the old verdict
    public, full = ranked(SPEC, book.judgements(("team", "c1")), NOW)
    cell = full.rows[0].cells[0]
    assert (cell.judged, cell.pending) == (0, 1)
    book.observe(ev("e1-rejudge", verdict="Accepted", submission="s1", minute=30))
    public, full = ranked(SPEC, book.judgements(("team", "c1")), NOW)
    cell = full.rows[0].cells[0]
    assert (cell.solved, cell.minute, cell.penalty) == (True, 5, 5)  # the submission keeps its first time


def test_deletion_and_a_name_created_again():
    book = Book()
    book.observe(ev("e1", verdict="Accepted", uid="old"))
    assert book.forget("team", "e1", uid="other") == set()  # not the one held
    assert book.observe(ev("e1", uid="new")) == {("team", "c1")}  # deleted and created again: the new one
    assert book.judgements(("team", "c1"))[0].verdict is None
    assert book.forget("team", "e1", uid="new") == {("team", "c1")}
    assert len(book) == 0


def test_a_label_moved_to_another_contest_changes_both():
    book = Book()
    book.observe(ev("e1", contest="c1"))
    assert book.observe(ev("e1", contest="c2")) == {("team", "c1"), ("team", "c2")}
    assert book.judgements(("team", "c1")) == [] and len(book.judgements(("team", "c2"))) == 1


def test_a_listing_forgets_what_it_no_longer_holds_in_its_namespace():
    book = Book()
    for e in (ev("e1"), ev("e2", contest="c2"), ev("e3", ns="other")):
        book.observe(e)
    assert book.keep_only({("team", "e1")}, "team") == {("team", "c2")}
    assert len(book) == 2  # the other namespace's listing is its own
    assert book.keep_only(set()) == {("team", "c1"), ("other", "c1")}


def test_problems_outside_the_contest_do_not_count():
    book = Book()
    book.observe(ev("e1", problem="sum", verdict="Accepted"))
    book.observe(ev("e2", problem="elsewhere", verdict="Accepted"))
    book.observe(ev("e3", participant="p2", problem="diff", verdict="Accepted", minute=20))
    public, full = ranked(SPEC, book.judgements(("team", "c1")), NOW)
    assert [(r.participant, r.solved, r.penalty) for r in full.rows] == [("p1", 1, 5), ("p2", 1, 20)]
    assert full.judged == 2


# ---- debounced rebuilds --------------------------------------------------------------------------

def test_a_burst_rebuilds_once_and_a_change_during_a_rebuild_once_more():
    async def scenario():
        runs, gate = [], asyncio.Event()

        async def run(key):
            runs.append(key)
            if len(runs) == 1:
                await gate.wait()

        rebuilds = Rebuilds(0.05, run)
        rebuilds.open()
        for _ in range(1000):
            rebuilds.touch(("team", "c1"))
        rebuilds.touch(("team", "c2"))
        await asyncio.sleep(0.1)
        assert sorted(runs) == [("team", "c1"), ("team", "c2")]
        for _ in range(100):
            rebuilds.touch(runs[0])  # while it rebuilds: one more after it, not a hundred
        gate.set()
        await asyncio.sleep(0.15)
        assert len(runs) == 3 and rebuilds.runs == 3 and rebuilds.pending == 0
        rebuilds.close()

    asyncio.run(scenario())


def test_nothing_is_rebuilt_before_the_listing_is_whole():
    async def scenario():
        runs = []

        async def run(key):
            runs.append(key)

        rebuilds = Rebuilds(0.01, run)
        rebuilds.touch(("team", "c1"))
        rebuilds.touch(("team", "c1"))
        await asyncio.sleep(0.05)
        assert runs == []
        rebuilds.open()
        await asyncio.sleep(0.05)
        assert runs == [("team", "c1")]

    asyncio.run(scenario())


def test_a_failed_rebuild_is_tried_again_and_a_boundary_rebuilds_by_itself():
    async def scenario():
        runs = []

        async def run(key):
            runs.append(key)
            if len(runs) == 1:
                raise RuntimeError("storage down")

        rebuilds = Rebuilds(0.01, run, retry_seconds=0.05)
        rebuilds.open()
        rebuilds.touch(("team", "c1"))
        await asyncio.sleep(0.03)
        assert len(runs) == 1
        await asyncio.sleep(0.08)
        assert len(runs) == 2
        rebuilds.at(("team", "c1"), 0.02)
        rebuilds.at(("team", "c1"), 0.04)  # moved: one handle per contest
        await asyncio.sleep(0.1)
        assert len(runs) == 3
        rebuilds.at(("team", "c1"), 0.02)
        rebuilds.forget(("team", "c1"))
        await asyncio.sleep(0.05)
        assert len(runs) == 3

    asyncio.run(scenario())


def test_next_boundary():
    w = SPEC.window
    assert next_boundary(w, datetime(2026, 5, 1, 9, tzinfo=timezone.utc)) == w.start
    assert next_boundary(w, w.start) == w.freeze
    assert next_boundary(w, w.freeze) == w.end
    assert next_boundary(w, w.end) is None  # no thaw set: frozen until someone sets it


# ---- the list-then-watch -------------------------------------------------------------------------

def test_list_then_watch_lists_again_when_the_watch_is_too_old():
    async def scenario():
        pages = {"": {"items": [ev("e1")], "metadata": {"continue": "p2", "resourceVersion": "10"}},
                 "p2": {"items": [ev("e2")], "metadata": {"resourceVersion": "10"}}}
        watches = []

        async def get(path, **params):
            assert params["labelSelector"] == "gavel.dev/contest"
            return pages[params.get("continue", "")]

        async def stream(path, **params):
            watches.append(params["resourceVersion"])
            if len(watches) == 1:
                yield {"type": "MODIFIED", "object": {**ev("e1", verdict="Accepted"),
                                                      "metadata": {**ev("e1")["metadata"], "resourceVersion": "11"}}}
                yield {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}}
            elif len(watches) == 2:
                yield {"type": "ERROR", "object": {"code": 410, "message": "too old resource version"}}
            else:
                await asyncio.Event().wait()

        seen, listings = [], []
        task = asyncio.get_running_loop().create_task(listwatch.follow(
            get, stream, "/apis/gavel.dev/v1alpha1/evaluations", "gavel.dev/contest",
            each=lambda obj: seen.append(("listed", obj["metadata"]["name"])), listed=listings.append,
            changed=lambda kind, obj: seen.append((kind, obj["metadata"]["name"]))))
        await asyncio.sleep(0.05)
        task.cancel()
        assert watches == ["10", "15", "10"]  # from the listing, from the bookmark, listed again after 410
        assert seen == [("listed", "e1"), ("listed", "e2"), ("MODIFIED", "e1"), ("listed", "e1"), ("listed", "e2")]
        assert listings == [{("team", "e1"), ("team", "e2")}] * 2

    asyncio.run(scenario())


# ---- where the files go, and what they hold --------------------------------------------------------

def test_files_go_under_the_namespace_prefix_unless_refused():
    settings = Settings()
    assert storage_of(SPEC, "team", "c1", settings) == ("gavel", "team/contests/c1", None)
    elsewhere = SPEC.model_copy(update={"storage": SPEC.storage.model_copy(update={"prefix": "other-team/boards"})})
    bucket, prefix, why = storage_of(elsewhere, "team", "c1", settings)
    assert why and "outside what namespace team may write" in why
    ours = SPEC.model_copy(update={"storage": SPEC.storage.model_copy(update={"prefix": ".gavel/boards"})})
    assert "operator's own" in storage_of(ours, "team", "c1", settings)[2]


def test_the_files_hold_standings_only():
    book = Book()
    book.observe(ev("e1", verdict="Accepted"))
    book.observe(ev("e2", participant="p2", verdict="Accepted", minute=0))
    files = scoreboard_files(SPEC, "c1", *ranked(SPEC, book.judgements(("team", "c1")), NOW))
    assert sorted(files) == ["full.html", "full.json", "public.html", "public.json"]
    assert files["public.json"][1] == "application/json" and files["full.html"][1].startswith("text/html")
    doc = json.loads(files["public.json"][0])
    assert [r["team_id"] for r in doc["rows"]] == ["p2", "p1"]
    for data, _ in files.values():
        assert b"X-Amz-" not in data and b"s3://" not in data


# ---- one rebuild, with a fake API server and storage ---------------------------------------------------

class FakeKube:
    def __init__(self):
        self.patches = []

    async def merge_patch(self, path, patch):
        self.patches.append((path, patch))
        return {}


class FakeStore:
    def __init__(self):
        self.objects = {}

    def write(self, bucket, key, data, content_type="text/plain"):
        self.objects[f"{bucket}/{key}"] = data

    def link(self, bucket, key):
        return f"https://s3.example.com/{bucket}/{key}"


def test_a_contest_event_and_its_rebuild(monkeypatch):
    fake, store = FakeKube(), FakeStore()
    monkeypatch.setattr(STATE, "settings", Settings(), raising=False)
    monkeypatch.setattr(contests, "kube", lambda: fake)

    async def store_for(namespace):
        return store

    monkeypatch.setattr(contests, "store_for", store_for)
    monkeypatch.setattr(contests, "BOOK", Book())
    monkeypatch.setattr(contests, "CONTESTS", {})

    async def scenario():
        monkeypatch.setattr(contests, "REBUILDS", Rebuilds(0.01, contests.rebuild))
        contests.REBUILDS.open()
        contests.evaluation_changed("ADDED", ev("e1", verdict="Accepted"))
        contests.evaluation_changed("ADDED", ev("e2", participant="p2", verdict="TestFailed"))
        await asyncio.sleep(0.05)
        assert fake.patches == []  # no Contest yet: nothing to rebuild
        body = {"metadata": {"namespace": "team", "name": "c1", "uid": "cu", "generation": 1},
                "spec": SPEC.model_dump(mode="json", by_alias=True, exclude_none=True), "status": {"rebuilds": 4}}
        await contests.contest_event({"type": None}, body, "team", "c1")
        await asyncio.sleep(0.05)
        [(path, patch)] = fake.patches
        status = patch["status"]
        assert path == "/apis/gavel.dev/v1alpha1/namespaces/team/contests/c1/status"
        assert (status["leader"], status["judged"], status["participants"], status["rebuilds"]) == ("p1", 2, 2, 5)
        assert status["scoreboards"]["publicJson"] == "s3://gavel/team/contests/c1/public.json"
        assert status["scoreboards"]["links"]["fullHtml"] == "https://s3.example.com/gavel/team/contests/c1/full.html"
        assert sorted(store.objects) == [f"gavel/team/contests/c1/{f}" for f in
                                         ("full.html", "full.json", "public.html", "public.json")]
        # our own status write comes back through the watch: no rebuild for it
        await contests.contest_event({"type": "MODIFIED"}, {**body, "status": status}, "team", "c1")
        contests.evaluation_changed("MODIFIED", ev("e2", participant="p2", verdict="TestFailed"))  # no change
        await asyncio.sleep(0.05)
        assert len(fake.patches) == 1
        contests.evaluation_changed("DELETED", ev("e1", verdict="Accepted"))
        await asyncio.sleep(0.05)
        assert len(fake.patches) == 2 and fake.patches[1][1]["status"]["leader"] is None
        assert fake.patches[1][1]["status"]["rebuilds"] == 6
        await contests.contest_event({"type": "DELETED"}, body, "team", "c1")
        contests.REBUILDS.close()

    asyncio.run(scenario())


def test_the_callback_says_each_change_once(monkeypatch):
    from gavel_operator.callbacks import CallbackError

    fake, store, sent = FakeKube(), FakeStore(), []
    answers = [None, CallbackError("connection refused"), None]
    monkeypatch.setattr(STATE, "settings", Settings(), raising=False)
    monkeypatch.setattr(contests, "kube", lambda: fake)

    async def store_for(namespace):
        return store

    async def send(url, data):
        sent.append((url, data))
        return answers.pop(0)

    monkeypatch.setattr(contests, "store_for", store_for)
    monkeypatch.setattr(contests.callbacks, "send", send)
    monkeypatch.setattr(contests, "BOOK", Book())
    monkeypatch.setattr(contests, "CONTESTS", {})

    async def scenario():
        monkeypatch.setattr(contests, "REBUILDS", Rebuilds(0.01, contests.rebuild))
        contests.REBUILDS.open()
        spec = {**SPEC.model_dump(mode="json", by_alias=True, exclude_none=True), "callbackUrl": "https://platform.example/sb"}
        body = {"metadata": {"namespace": "team", "name": "c1", "uid": "cu", "generation": 1}, "spec": spec, "status": {}}
        await contests.contest_event({"type": None}, body, "team", "c1")
        contests.evaluation_changed("ADDED", ev("e1", verdict="Accepted"))
        await asyncio.sleep(0.05)
        [(url, payload)] = sent
        assert url == "https://platform.example/sb" and payload["kind"] == "ContestScoreboard"
        assert payload["scoreboard"]["rows"][0]["team_id"] == "p1" and payload["status"]["leader"] == "p1"
        conds = {c["type"]: c["status"] for c in fake.patches[-1][1]["status"]["conditions"]}
        assert conds == {"CallbackDelivered": "True"}
        contests.REBUILDS.touch(("team", "c1"))  # rebuilt, nothing changed: no callback
        await asyncio.sleep(0.05)
        assert len(sent) == 1 and len(fake.patches) == 2
        contests.evaluation_changed("ADDED", ev("e2", participant="p2", verdict="Accepted", minute=1))
        await asyncio.sleep(0.05)
        assert len(sent) == 2  # refused: said in the status, tried again by a rebuild 2 s later
        status = fake.patches[-1][1]["status"]
        assert "callback failed: connection refused" in status["message"]
        assert status["conditions"][0]["status"] == "False"
        contests.REBUILDS.close()

    asyncio.run(scenario())
