"""api.md's paging guarantee for the created_at order, as a property on every store:
whatever links are added (with any created_at, ties included) or deleted between pages,
no link is returned twice, none that existed before the first page and survived is
skipped, and the pages run newest created_at first."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delinkcious.models import DatedNewLink, LinkFilter
from tests.link.conftest import make_service

DAY = datetime(2021, 6, 1, tzinfo=UTC)
MAX_PAGES_WITH_CHURN = 25
_owners = itertools.count()

# A few hours apart at most, so many links share a created_at; None means "now".
created_at = st.one_of(st.none(), st.integers(0, 5).map(lambda h: DAY + timedelta(hours=h)))
churn = st.lists(st.tuples(st.sampled_from(["add", "delete"]), created_at, st.integers(0, 1000)), max_size=4)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), before=st.lists(created_at, max_size=40), page_size=st.integers(1, 8))
def test_paging_under_churn_never_repeats_or_skips(
    any_store: object, data: st.DataObject, before: list[datetime | None], page_size: int
) -> None:
    service = make_service(any_store)
    owner = f"user-{next(_owners)}"  # examples share the store; each has its own user
    fresh = (f"https://e.com/{n}" for n in itertools.count())
    live: list[str] = []
    for at in before:
        live.append(service.add_link(owner, DatedNewLink(url=next(fresh), created_at=at)).url)
    existing, deleted = set(live), set()

    seen, times, token = [], [], ""
    for page_no in itertools.count():
        page = service.list_links(owner, LinkFilter(), page_size, token)
        seen += [link.url for link in page.links]
        times += [link.created_at for link in page.links]
        token = page.next_page_token
        if not token:
            break
        for kind, at, pick in data.draw(churn) if page_no < MAX_PAGES_WITH_CHURN else []:
            if kind == "add":
                live.append(service.add_link(owner, DatedNewLink(url=next(fresh), created_at=at)).url)
            elif live:
                gone = live.pop(pick % len(live))
                service.delete_link(owner, gone)
                deleted.add(gone)

    assert len(seen) == len(set(seen)), "a link was returned twice"
    assert existing - deleted <= set(seen), "a link that was there all along was skipped"
    assert times == sorted(times, reverse=True), "pages are not newest created_at first"
