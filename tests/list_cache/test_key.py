"""A list page is kept under a key made of every field of its query: two listings
that differ in any one field never share a page."""

from __future__ import annotations

from delinkcious.models import LinkListQuery

# A value other than the default for each field; a field added to the query without a
# sample here fails the first test, so the key is checked for it too.
SAMPLES: dict[str, object] = {
    "url_regex": "example",
    "title_regex": "news",
    "description_regex": "read later",
    "tag": ["go"],
    "private": True,
    "page_size": 5,
    "start_token": "next-page",
}


def test_every_field_of_the_query_has_a_sample() -> None:
    assert set(SAMPLES) == set(LinkListQuery.model_fields)


def test_queries_that_differ_in_one_field_have_different_keys() -> None:
    default = LinkListQuery().cache_key()
    for name, value in SAMPLES.items():
        assert LinkListQuery(**{name: value}).cache_key() != default, name
    # private=False is not the default None: "only public" is not "all".
    assert LinkListQuery(private=False).cache_key() != default


def test_the_same_query_has_the_same_hashable_key() -> None:
    first = LinkListQuery(tag=["go", "web"], page_size=5)
    again = LinkListQuery(tag=["go", "web"], page_size=5)
    assert first.cache_key() == again.cache_key()
    assert hash(first.cache_key()) == hash(again.cache_key())
