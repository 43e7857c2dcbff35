"""The registry store contract, run against every backend (SQLite and PostgreSQL).

The concurrency tests at the bottom drive the store from many threads through
two `Database` objects on the same database (two connection pools, as two
server processes would have), so the guarantees they check are the database's,
not a Python lock's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from modelyard.entities import Param, Tag
from modelyard.errors import InvalidParameterValue, InvalidState, ResourceDoesNotExist
from modelyard.registry_entities import (
    HistoryAction,
    HistoryCause,
    LoggedModel,
    LoggedModelStatus,
    Stage,
)
from modelyard.service.search_filter import (
    decode_page_token,
    parse_logged_model_filter,
    parse_logged_model_order_by,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
)
from modelyard.store.registry import Actor, NewModelVersion
from modelyard.store.sql.db import Database, UniqueViolation
from modelyard.store.sql.registry import SqlRegistryStore
from modelyard.store.sql.tracking import SqlTrackingStore

T = TypeVar("T")


@pytest.fixture
def store(db: Database) -> SqlRegistryStore:
    return SqlRegistryStore(db)


def at(now: int, user: str | None = None, comment: str | None = None) -> Actor:
    return Actor(now=now, user_id=user, comment=comment)


def new_version(name: str, source: str = "runs:/r1/model", **kw: object) -> NewModelVersion:
    fields: dict[str, object] = {
        "name": name,
        "source": source,
        "storage_location": None,
        "run_id": "r1",
        "run_link": "",
        "model_id": None,
        "description": "",
        "user_id": None,
    }
    fields.update(kw)
    return NewModelVersion(**fields)  # type: ignore[arg-type]


def model_with_versions(store: SqlRegistryStore, name: str, n: int, now: int = 10) -> None:
    store.create_registered_model(name, None, [], now)
    for i in range(n):
        store.create_model_version(new_version(name), at(now + i + 1))


def move(
    store: SqlRegistryStore,
    name: str,
    version: int,
    stage: str,
    now: int,
    *,
    exclusive: bool = True,
    archive: bool | None = None,
) -> None:
    store.transition_stage(
        name,
        version,
        stage,
        archive_others=(stage in Stage.EXCLUSIVE) if archive is None else archive,
        exclusive=exclusive,
        actor=at(now),
        cause=HistoryCause.REQUEST,
    )


def stages(store: SqlRegistryStore, name: str) -> dict[int, str]:
    page = store.search_model_versions(
        parse_model_version_filter(f"name = '{name}'"), [], 1000, 0, False
    )
    return {mv.version: mv.current_stage for mv in page.items}


# -- registered models ------------------------------------------------------------


def test_create_get_and_duplicate_name(store: SqlRegistryStore) -> None:
    rm = store.create_registered_model("m", "about m", [Tag("a", "1"), Tag("a", "2")], 100)
    assert (rm.name, rm.description, rm.creation_timestamp, rm.last_updated_timestamp) == (
        "m",
        "about m",
        100,
        100,
    )
    assert rm.tags == (Tag("a", "2"),)  # the last value of a repeated key wins
    assert rm.latest_versions == () and rm.aliases == ()
    assert store.get_registered_model("m") == rm
    with pytest.raises(UniqueViolation):
        store.create_registered_model("m", None, [], 101)
    with pytest.raises(ResourceDoesNotExist, match="Registered Model with name=nope not found"):
        store.get_registered_model("nope")


def test_rename_carries_versions_aliases_and_history(store: SqlRegistryStore) -> None:
    model_with_versions(store, "old", 2)
    store.set_alias("old", "champ", 2, at(20))
    store.create_registered_model("taken", None, [], 21)
    with pytest.raises(UniqueViolation):
        store.rename_registered_model("old", "taken", 22)
    rm = store.rename_registered_model("old", "new", 30)
    assert rm.name == "new" and rm.last_updated_timestamp == 30
    assert [mv.name for mv in rm.latest_versions] == ["new"]
    assert store.get_model_version("new", 1).last_updated_timestamp == 30
    assert store.get_version_by_alias("new", "champ").version == 2  # type: ignore[union-attr]
    assert store.list_history("new", None, 100, 0).items[0].name == "new"
    with pytest.raises(ResourceDoesNotExist):
        store.get_registered_model("old")
    with pytest.raises(ResourceDoesNotExist):
        store.rename_registered_model("old", "x", 31)


def test_update_and_delete(store: SqlRegistryStore) -> None:
    model_with_versions(store, "m", 3)
    store.set_registered_model_tag("m", Tag("k", "v"))
    store.set_alias("m", "a", 1, at(20))
    rm = store.update_registered_model("m", "new text", 40)
    assert (rm.description, rm.last_updated_timestamp) == ("new text", 40)
    assert store.update_registered_model("m", None, 41).description is None
    store.delete_registered_model("m")
    with pytest.raises(ResourceDoesNotExist):
        store.get_registered_model("m")
    with pytest.raises(ResourceDoesNotExist):
        store.delete_registered_model("m")
    # A new model of the same name starts afresh, as in MLflow: no versions,
    # tags, aliases or history survive, and numbering restarts at 1.
    store.create_registered_model("m", None, [], 50)
    assert store.get_registered_model("m").tags == ()
    assert store.list_history("m", None, 10, 0).items == []
    assert store.create_model_version(new_version("m"), at(51)).version == 1


def test_registered_model_tags(store: SqlRegistryStore) -> None:
    store.create_registered_model("m", None, [], 1)
    store.set_registered_model_tag("m", Tag("k", "v1"))
    store.set_registered_model_tag("m", Tag("k", "v2"))
    store.set_registered_model_tag("m", Tag("j", ""))
    assert store.get_registered_model("m").tags == (Tag("j", ""), Tag("k", "v2"))
    store.delete_registered_model_tag("m", "k")
    store.delete_registered_model_tag("m", "never-set")  # not an error, as in MLflow
    assert store.get_registered_model("m").tags == (Tag("j", ""),)
    with pytest.raises(ResourceDoesNotExist):
        store.set_registered_model_tag("nope", Tag("k", "v"))
    with pytest.raises(ResourceDoesNotExist):
        store.delete_registered_model_tag("nope", "k")


# -- model versions ------------------------------------------------------------------


def test_versions_are_numbered_from_one_and_never_reused(store: SqlRegistryStore) -> None:
    store.create_registered_model("m", None, [], 1)
    created = [store.create_model_version(new_version("m"), at(10 + i)) for i in range(3)]
    assert [mv.version for mv in created] == [1, 2, 3]
    first = created[0]
    assert (first.current_stage, first.status, first.creation_timestamp) == ("None", "READY", 10)
    assert store.get_registered_model("m").last_updated_timestamp == 12
    store.delete_model_version("m", 3, at(20))
    store.delete_model_version("m", 2, at(21))
    assert store.create_model_version(new_version("m"), at(30)).version == 4
    with pytest.raises(
        ResourceDoesNotExist, match=r"Model Version \(name=m, version=3\) not found"
    ):
        store.get_model_version("m", 3)
    with pytest.raises(ResourceDoesNotExist, match="Registered Model with name=x not found"):
        store.create_model_version(new_version("x"), at(31))


def test_version_fields_tags_and_update(store: SqlRegistryStore) -> None:
    store.create_registered_model("m", None, [], 1)
    mv = store.create_model_version(
        new_version(
            "m",
            source="models:/m-abc",
            storage_location="mlflow-artifacts:/1/models/m-abc/artifacts",
            run_id="r9",
            run_link="http://x",
            model_id="m-abc",
            description="first",
            user_id="alice",
            tags=(Tag("t", "1"),),
        ),
        at(5),
    )
    assert (mv.source, mv.download_uri, mv.run_id, mv.model_id, mv.user_id) == (
        "models:/m-abc",
        "mlflow-artifacts:/1/models/m-abc/artifacts",
        "r9",
        "m-abc",
        "alice",
    )
    assert mv.tags == (Tag("t", "1"),) and mv.run_link == "http://x"
    store.set_model_version_tag("m", 1, Tag("t", "2"), 5)
    store.set_model_version_tag("m", 1, Tag("u", "x"), 5)
    store.delete_model_version_tag("m", 1, "u", 5)
    store.delete_model_version_tag("m", 1, "never-set", 5)
    updated = store.update_model_version("m", 1, "second", 9)
    assert (updated.description, updated.last_updated_timestamp) == ("second", 9)
    assert updated.tags == (Tag("t", "2"),)
    for call in (
        lambda: store.set_model_version_tag("m", 7, Tag("t", "x"), 5),
        lambda: store.delete_model_version_tag("m", 7, "t", 5),
        lambda: store.update_model_version("m", 7, "d", 1),
        lambda: store.delete_model_version("m", 7, at(1)),
    ):
        with pytest.raises(ResourceDoesNotExist):
            call()


def test_latest_versions_per_stage(store: SqlRegistryStore) -> None:
    model_with_versions(store, "m", 5)
    move(store, "m", 1, "Production", 20)
    move(store, "m", 2, "Staging", 21)
    move(store, "m", 3, "Archived", 22)
    latest = store.get_latest_versions("m", [])
    assert {(mv.current_stage, mv.version) for mv in latest} == {
        ("Production", 1),
        ("Staging", 2),
        ("Archived", 3),
        ("None", 5),
    }
    assert [mv.version for mv in store.get_latest_versions("m", ["Production", "None"])] == [1, 5]
    rm = store.get_registered_model("m")
    assert sorted(mv.version for mv in rm.latest_versions) == [1, 2, 3, 5]
    with pytest.raises(ResourceDoesNotExist):
        store.get_latest_versions("nope", [])


def test_exclusive_transition_archives_the_previous_holder(store: SqlRegistryStore) -> None:
    model_with_versions(store, "m", 3)
    move(store, "m", 1, "Production", 20)
    move(store, "m", 2, "Production", 21)
    assert stages(store, "m") == {1: "Archived", 2: "Production", 3: "None"}
    move(store, "m", 3, "Staging", 22)
    move(store, "m", 1, "Staging", 23)
    assert stages(store, "m") == {1: "Staging", 2: "Production", 3: "Archived"}
    # Re-entering the stage one already holds changes nothing else.
    move(store, "m", 2, "Production", 24)
    assert stages(store, "m") == {1: "Staging", 2: "Production", 3: "Archived"}
    assert store.get_model_version("m", 1).last_updated_timestamp == 23


def test_permissive_policy_allows_several_holders(store: SqlRegistryStore) -> None:
    model_with_versions(store, "m", 3)
    move(store, "m", 1, "Production", 20, exclusive=False, archive=False)
    move(store, "m", 2, "Production", 21, exclusive=False, archive=False)
    assert stages(store, "m") == {1: "Production", 2: "Production", 3: "None"}
    move(store, "m", 3, "Production", 22, exclusive=False, archive=True)
    assert stages(store, "m") == {1: "Archived", 2: "Archived", 3: "Production"}


def test_schema_refuses_a_second_exclusive_holder(store: SqlRegistryStore) -> None:
    """The unique index is a backstop: even a caller that forgets to archive
    cannot put two exclusive holders in one stage."""
    model_with_versions(store, "m", 2)
    move(store, "m", 1, "Production", 20)
    with pytest.raises(UniqueViolation):
        move(store, "m", 2, "Production", 21, archive=False)
    assert stages(store, "m") == {1: "Production", 2: "None"}  # rolled back whole


# -- aliases and history ------------------------------------------------------------------


def test_aliases(store: SqlRegistryStore) -> None:
    model_with_versions(store, "m", 3)
    store.set_alias("m", "champ", 1, at(20, "alice"))
    store.set_alias("m", "champ", 2, at(21, "bob"))
    store.set_alias("m", "other", 2, at(22))
    mv = store.get_version_by_alias("m", "champ")
    assert mv is not None and mv.version == 2 and mv.aliases == ("champ", "other")
    assert store.get_version_by_alias("m", "missing") is None
    assert [(a.alias, a.version) for a in store.get_registered_model("m").aliases] == [
        ("champ", 2),
        ("other", 2),
    ]
    with pytest.raises(ResourceDoesNotExist):
        store.set_alias("m", "x", 9, at(23))
    store.delete_alias("m", "other", at(24))
    store.delete_alias("m", "other", at(25))  # absent: nothing happens, nothing recorded
    # Deleting a version takes its aliases with it.
    store.delete_model_version("m", 2, at(26))
    assert store.get_version_by_alias("m", "champ") is None
    events = store.list_history("m", None, 100, 0).items
    assert [(e.action, e.version, e.alias, e.previous_version) for e in events[:5]] == [
        (HistoryAction.DELETED, 2, None, None),
        (HistoryAction.ALIAS_DELETED, 2, "champ", None),
        (HistoryAction.ALIAS_DELETED, 2, "other", None),
        (HistoryAction.ALIAS_SET, 2, "other", None),
        (HistoryAction.ALIAS_SET, 2, "champ", 1),
    ]
    assert events[4].user_id == "bob"


def test_history_records_every_transition_newest_first(store: SqlRegistryStore) -> None:
    model_with_versions(store, "m", 2)
    store.transition_stage(
        "m",
        1,
        "Production",
        archive_others=True,
        exclusive=True,
        actor=at(20, "alice", "ship it"),
        cause=HistoryCause.REQUEST,
    )
    store.transition_stage(
        "m",
        2,
        "Production",
        archive_others=True,
        exclusive=True,
        actor=at(30, "bob", "better"),
        cause=HistoryCause.REQUEST,
    )
    events = store.list_history("m", None, 100, 0).items
    assert [
        (e.version, e.action, e.from_stage, e.to_stage, e.user_id, e.comment, e.cause, e.timestamp)
        for e in events
    ] == [
        (2, "transition", "None", "Production", "bob", "better", "request", 30),
        (1, "transition", "Production", "Archived", "bob", None, "displaced", 30),
        (1, "transition", "None", "Production", "alice", "ship it", "request", 20),
        (2, "created", None, "None", None, None, "request", 12),
        (1, "created", None, "None", None, None, "request", 11),
    ]
    only_v1 = store.list_history("m", 1, 100, 0).items
    assert [e.event_id for e in only_v1] == [
        events[1].event_id,
        events[2].event_id,
        events[4].event_id,
    ]
    first = store.list_history("m", None, 2, 0)
    assert len(first.items) == 2 and first.next_page_token is not None
    rest = store.list_history("m", None, 10, decode_page_token(first.next_page_token))
    assert [e.event_id for e in first.items + rest.items] == [e.event_id for e in events]
    assert rest.next_page_token is None


def test_stage_holder_at_a_time(store: SqlRegistryStore) -> None:
    model_with_versions(store, "m", 3)  # created at 11, 12, 13
    move(store, "m", 1, "Production", 100)
    move(store, "m", 2, "Production", 200)
    move(store, "m", 2, "Archived", 300)
    move(store, "m", 3, "Production", 400)
    store.delete_model_version("m", 3, at(500))

    def holder(t: int) -> tuple[int | None, int | None]:
        h = store.stage_holder("m", "Production", t)
        return h.version, h.since

    assert holder(99) == (None, None)
    assert holder(100) == (1, 100)
    assert holder(199) == (1, 100)
    assert holder(200) == (2, 200)
    assert holder(350) == (None, None)
    assert holder(450) == (3, 400)
    assert holder(600) == (None, None)
    assert store.stage_holder("m", "Archived", 350).version == 2
    with pytest.raises(ResourceDoesNotExist):
        store.stage_holder("nope", "Production", 1)


def test_rollback_returns_the_previous_holder(store: SqlRegistryStore) -> None:
    model_with_versions(store, "m", 4)
    with pytest.raises(InvalidState):
        store.rollback_stage("m", "Production", exclusive=True, actor=at(50))
    move(store, "m", 1, "Production", 100)
    with pytest.raises(InvalidState):
        store.rollback_stage("m", "Production", exclusive=True, actor=at(150))
    move(store, "m", 2, "Production", 200)
    move(store, "m", 3, "Production", 300)
    back = store.rollback_stage("m", "Production", exclusive=True, actor=at(400, "ops", "bad"))
    assert back.version == 2 and back.current_stage == "Production"
    assert stages(store, "m") == {1: "Archived", 2: "Production", 3: "Archived", 4: "None"}
    last = store.list_history("m", None, 1, 0).items[0]
    assert (last.version, last.cause, last.user_id, last.comment) == (2, "rollback", "ops", "bad")
    # Rolling back again returns to the holder before the current one took over.
    assert store.rollback_stage("m", "Production", exclusive=True, actor=at(500)).version == 3
    # Versions deleted since are skipped.
    store.delete_model_version("m", 2, at(600))
    assert store.rollback_stage("m", "Production", exclusive=True, actor=at(700)).version == 1
    assert stages(store, "m") == {1: "Production", 3: "Archived", 4: "None"}
    # With nobody in the stage, the last holder comes back.
    move(store, "m", 1, "Archived", 800)
    assert store.rollback_stage("m", "Production", exclusive=True, actor=at(900)).version == 1


def test_rollback_never_takes_a_version_out_of_the_other_stage(store: SqlRegistryStore) -> None:
    model_with_versions(store, "m", 2)
    move(store, "m", 1, "Staging", 100)
    move(store, "m", 1, "Production", 200)
    # Staging is empty and its last holder is in Production now: nothing to roll back to.
    with pytest.raises(InvalidState):
        store.rollback_stage("m", "Staging", exclusive=True, actor=at(300))
    assert stages(store, "m") == {1: "Production", 2: "None"}


# -- searches --------------------------------------------------------------------------------


def search_models(
    store: SqlRegistryStore, flt: str = "", order: list[str] | None = None
) -> list[str]:
    page = store.search_registered_models(
        parse_registered_model_filter(flt),
        parse_registered_model_order_by(order or []),
        100,
        0,
        False,
    )
    return [rm.name for rm in page.items]


def test_search_registered_models(store: SqlRegistryStore) -> None:
    for i, name in enumerate(["alpha", "Beta", "gamma", "alphabet"]):
        store.create_registered_model(name, None, [Tag("team", "a" if i % 2 else "b")], 10 + i)
    store.create_registered_model("a-prompt", None, [Tag("mlflow.prompt.is_prompt", "true")], 20)
    assert search_models(store) == ["Beta", "alpha", "alphabet", "gamma"]
    assert search_models(store, "name = 'alpha'") == ["alpha"]
    assert search_models(store, "name != 'alpha'") == ["Beta", "alphabet", "gamma"]
    assert search_models(store, "name LIKE 'alpha%'") == ["alpha", "alphabet"]
    assert search_models(store, "name LIKE 'beta'") == []  # LIKE is case-sensitive
    assert search_models(store, "name ILIKE 'beta'") == ["Beta"]
    assert search_models(store, "name LIKE '_amma'") == ["gamma"]
    assert search_models(store, "name IN ('gamma', 'Beta')") == ["Beta", "gamma"]
    assert search_models(store, "tags.team = 'a'") == ["Beta", "alphabet"]
    assert search_models(store, "tags.team = 'a' AND name LIKE '%bet'") == ["alphabet"]
    assert search_models(store, "tags.missing = 'a'") == []
    assert search_models(store, "", ["last_updated_timestamp DESC"]) == [
        "alphabet",
        "gamma",
        "Beta",
        "alpha",
    ]
    assert search_models(store, "", ["name DESC"]) == ["gamma", "alphabet", "alpha", "Beta"]
    prompts = store.search_registered_models(
        parse_registered_model_filter("tags.`mlflow.prompt.is_prompt` = 'true'"), [], 10, 0, True
    )
    assert [rm.name for rm in prompts.items] == ["a-prompt"]
    # Paging walks everything once.
    seen: list[str] = []
    offset = 0
    while True:
        page = store.search_registered_models([], [], 3, offset, False)
        seen.extend(rm.name for rm in page.items)
        if page.next_page_token is None:
            break
        offset = decode_page_token(page.next_page_token)
    assert seen == ["Beta", "alpha", "alphabet", "gamma"]


def test_search_registered_models_returns_latest_versions(store: SqlRegistryStore) -> None:
    model_with_versions(store, "m", 3)
    move(store, "m", 2, "Staging", 30)
    store.set_alias("m", "champ", 2, at(31))
    (rm,) = store.search_registered_models([], [], 10, 0, False).items
    assert {(mv.version, mv.current_stage) for mv in rm.latest_versions} == {
        (2, "Staging"),
        (3, "None"),
    }
    assert [(a.alias, a.version) for a in rm.aliases] == [("champ", 2)]


def search_versions(
    store: SqlRegistryStore, flt: str, order: list[str] | None = None
) -> list[tuple[str, int]]:
    page = store.search_model_versions(
        parse_model_version_filter(flt),
        parse_model_version_order_by(order or ["name ASC"]),
        1000,
        0,
        False,
    )
    return [(mv.name, mv.version) for mv in page.items]


def test_search_model_versions(store: SqlRegistryStore) -> None:
    model_with_versions(store, "a", 3)
    store.create_registered_model("b", None, [], 1)
    store.create_model_version(new_version("b", run_id="r2", source="runs:/r2/m"), at(50))
    store.set_model_version_tag("a", 2, Tag("k", "v"), 5)
    store.create_model_version(
        new_version("b", tags=(Tag("mlflow.prompt.is_prompt", "true"),)), at(51)
    )
    assert search_versions(store, "name = 'a'") == [("a", 3), ("a", 2), ("a", 1)]
    assert search_versions(store, "run_id = 'r2'") == [("b", 1)]
    assert search_versions(store, "run_id IN ('r1', 'r2') AND version_number >= 2") == [
        ("a", 3),
        ("a", 2),
    ]
    assert search_versions(store, "version_number = '3'") == [("a", 3)]
    assert search_versions(store, "source_path LIKE 'runs:/r2%'") == [("b", 1)]
    assert search_versions(store, "tags.k = 'v'") == [("a", 2)]
    assert search_versions(store, "", ["version_number ASC"]) == [
        ("a", 1),
        ("b", 1),
        ("a", 2),
        ("a", 3),
    ]
    assert search_versions(store, "", ["last_updated_timestamp DESC"]) == [
        ("b", 1),
        ("a", 3),
        ("a", 2),
        ("a", 1),
    ]
    first = store.search_model_versions([], [], 2, 0, False)
    assert len(first.items) == 2 and first.next_page_token is not None


def test_unknown_filter_keys_are_refused(store: SqlRegistryStore) -> None:
    with pytest.raises(InvalidParameterValue):
        parse_registered_model_filter("foo = 'x'")
    with pytest.raises(InvalidParameterValue):
        parse_model_version_order_by(["bogus"])


# -- logged models -----------------------------------------------------------------------------


@pytest.fixture
def experiment(db: Database) -> str:
    tracking = SqlTrackingStore(db)
    tracking.ensure_default_experiment("Default", "mlflow-artifacts:/0", 1)
    return tracking.create_experiment("e", "mlflow-artifacts:/1", [], 1)


def logged(model_id: str, exp: str, **kw: object) -> LoggedModel:
    fields: dict[str, object] = {
        "model_id": model_id,
        "experiment_id": exp,
        "name": "model",
        "artifact_location": f"mlflow-artifacts:/{exp}/models/{model_id}/artifacts",
        "creation_timestamp": 10,
        "last_updated_timestamp": 10,
        "status": LoggedModelStatus.PENDING,
    }
    fields.update(kw)
    return LoggedModel(**fields)  # type: ignore[arg-type]


def test_logged_model_lifecycle(store: SqlRegistryStore, experiment: str) -> None:
    store.create_logged_model(
        logged(
            "m-1",
            experiment,
            source_run_id="r1",
            model_type="sk",
            tags=(Tag("t", "1"),),
            params=(Param("p", "x"),),
        )
    )
    m = store.get_logged_model("m-1")
    assert (m.experiment_id, m.status, m.source_run_id, m.model_type) == (
        experiment,
        "PENDING",
        "r1",
        "sk",
    )
    assert m.tags == (Tag("t", "1"),) and m.params == (Param("p", "x"),)
    with pytest.raises(UniqueViolation):
        store.create_logged_model(logged("m-1", experiment))
    done = store.finalize_logged_model("m-1", LoggedModelStatus.READY, 20)
    assert (done.status, done.last_updated_timestamp) == ("READY", 20)
    store.set_logged_model_tags("m-1", [Tag("t", "2"), Tag("u", "3")], 21)
    store.log_logged_model_params("m-1", [Param("q", "y")])
    store.delete_logged_model_tag("m-1", "u")
    with pytest.raises(ResourceDoesNotExist, match="No tag with key 'u'"):
        store.delete_logged_model_tag("m-1", "u")
    m = store.get_logged_model("m-1")
    assert m.tags == (Tag("t", "2"),) and m.params == (Param("p", "x"), Param("q", "y"))
    store.delete_logged_model("m-1", 30)
    with pytest.raises(ResourceDoesNotExist, match="Logged model with ID 'm-1' not found"):
        store.get_logged_model("m-1")
    assert store.get_logged_model("m-1", allow_deleted=True).lifecycle_stage == "deleted"


def test_ensure_logged_model_is_idempotent(store: SqlRegistryStore, experiment: str) -> None:
    folder = logged("m-run-r1", experiment, run_folder="", status=LoggedModelStatus.READY)
    assert store.ensure_logged_model(folder).run_folder == ""
    again = store.ensure_logged_model(replace_name(folder, "other"))
    assert again.name == "model"  # the first one stays
    # Run-folder models are not listed by searches (the service offers them).
    assert store.search_logged_models([experiment], [], [], 10, 0).items == []


def replace_name(m: LoggedModel, name: str) -> LoggedModel:
    from dataclasses import replace

    return replace(m, name=name)


def test_search_logged_models(store: SqlRegistryStore, experiment: str) -> None:
    for i in range(5):
        store.create_logged_model(
            logged(
                f"m-{i}",
                experiment,
                name="even" if i % 2 == 0 else "odd",
                creation_timestamp=100 + i,
                source_run_id=f"r{i}",
                tags=(Tag("i", str(i)),),
                params=(Param("lr", f"0.{i}"),),
            )
        )
    store.create_logged_model(logged("m-other", "0", name="even"))

    def ids(
        flt: str = "", order: list[str] | None = None, exps: list[str] | None = None
    ) -> list[str]:
        page = store.search_logged_models(
            exps or [experiment],
            parse_logged_model_filter(flt),
            parse_logged_model_order_by(order or []),
            100,
            0,
        )
        return [m.model_id for m in page.items]

    assert ids() == ["m-4", "m-3", "m-2", "m-1", "m-0"]
    assert ids("name = 'even'") == ["m-4", "m-2", "m-0"]
    assert ids("name = 'even'", exps=[experiment, "0"]) == ["m-4", "m-2", "m-0", "m-other"]
    assert ids("source_run_id = 'r3'") == ["m-3"]
    assert ids("tags.i = '1'") == ["m-1"]
    assert ids("params.lr IN ('0.2', '0.4')") == ["m-4", "m-2"]
    assert ids("metrics.acc > 0.5") == []
    assert ids("creation_timestamp > 102") == ["m-4", "m-3"]
    assert ids("", ["creation_timestamp ASC"]) == ["m-0", "m-1", "m-2", "m-3", "m-4"]
    assert store.count_logged_models([experiment], parse_logged_model_filter("name = 'odd'")) == 2
    page = store.search_logged_models([experiment], [], [], 2, 2)
    assert [m.model_id for m in page.items] == ["m-2", "m-1"]
    assert page.next_page_token is not None and decode_page_token(page.next_page_token) == 4
    store.delete_logged_model("m-4", 1)
    assert ids("name = 'even'") == ["m-2", "m-0"]


# -- concurrency -------------------------------------------------------------------------------


@pytest.fixture
def second_db(db: Database) -> Iterator[Database]:
    """Another connection pool on the same database: a second server process."""
    other = Database(db.url)
    yield other
    other.close()


def run_threads(n: int, work: Callable[[int], T]) -> list[T]:
    barrier = threading.Barrier(n)
    results: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return [r for r in results if r is not None]


def test_concurrent_version_creation_has_no_gap_or_duplicate(
    db: Database, second_db: Database
) -> None:
    stores = [SqlRegistryStore(db), SqlRegistryStore(second_db)]
    stores[0].create_registered_model("m", None, [], 1)

    def work(i: int) -> list[int]:
        store = stores[i % 2]
        return [store.create_model_version(new_version("m"), at(10)).version for _ in range(5)]

    numbers = sorted(v for batch in run_threads(8, work) for v in batch)
    assert numbers == list(range(1, 41))
    history = stores[0].list_history("m", None, 1000, 0).items
    assert sorted(e.version for e in history if e.action == "created") == numbers


def test_concurrent_promotions_leave_exactly_one_holder(db: Database, second_db: Database) -> None:
    stores = [SqlRegistryStore(db), SqlRegistryStore(second_db)]
    model_with_versions(stores[0], "m", 16)

    def work(i: int) -> int:
        mv = stores[i % 2].transition_stage(
            "m",
            i + 1,
            "Production",
            archive_others=True,
            exclusive=True,
            actor=at(100 + i),
            cause=HistoryCause.REQUEST,
        )
        return mv.version

    run_threads(16, work)
    final = stages(stores[0], "m")
    holders = [v for v, s in final.items() if s == "Production"]
    assert len(holders) == 1
    assert sorted(v for v, s in final.items() if s == "Archived") == sorted(
        set(range(1, 17)) - set(holders)
    )
    # The history tells the same story: every version entered Production once
    # and every one but the last holder was displaced once.
    events = stores[0].list_history("m", None, 1000, 0).items
    entered = [e.version for e in events if e.to_stage == "Production"]
    displaced = [e.version for e in events if e.cause == "displaced"]
    assert sorted(entered) == list(range(1, 17))
    assert sorted(displaced) == sorted(set(range(1, 17)) - set(holders))
    assert events[0].version == holders[0] and events[0].to_stage == "Production"
