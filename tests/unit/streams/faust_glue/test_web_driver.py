"""Our status page, not Faust's index, owns the root path."""

from __future__ import annotations

from streams.faust_glue.web_driver import ServiceApp


def test_faust_index_does_not_take_the_root_path() -> None:
    app = ServiceApp("unit-driver", autodiscover=False)
    mounted = [blueprint for _, blueprint in app.web._enabled_blueprints()]
    assert not any("production_index" in str(b) for b in mounted)
    assert not any("stats" in str(b) for b in mounted)
