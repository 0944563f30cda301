"""The token cache: bounded, reused for token_cache_time at most, never past a token's expiry."""

from __future__ import annotations

from accord.keystone.cache import INVALID, TokenCache, TokenInfo, token_key
from accord.keystone.validator import parse_token


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def info(expires_at: float) -> TokenInfo:
    return TokenInfo("u", "p", None, None, frozenset({"member"}), expires_at)


def test_entries_live_for_the_cache_time_only() -> None:
    clock = Clock()
    cache = TokenCache(ttl_s=300, clock=clock)
    cache.put("k", info(expires_at=10_000))
    clock.now += 299
    assert cache.get("k") == info(10_000)
    clock.now += 1
    assert cache.get("k") is None


def test_a_cached_token_is_dropped_when_the_token_itself_expires() -> None:
    clock = Clock()
    cache = TokenCache(ttl_s=300, clock=clock)
    cache.put("k", info(expires_at=clock.now + 10))
    clock.now += 9.9
    assert cache.get("k") is not None
    clock.now += 0.1
    assert cache.get("k") is None
    assert len(cache) == 0


def test_refusals_are_remembered_for_the_cache_time() -> None:
    clock = Clock()
    cache = TokenCache(ttl_s=60, clock=clock)
    cache.put("bad", INVALID)
    assert cache.get("bad") == INVALID
    clock.now += 60
    assert cache.get("bad") is None


def test_the_least_recently_used_entry_goes_first_when_full() -> None:
    cache = TokenCache(ttl_s=300, max_entries=2, clock=Clock())
    cache.put("a", INVALID)
    cache.put("b", INVALID)
    assert cache.get("a") == INVALID  # a is now the most recently used
    cache.put("c", INVALID)
    assert cache.get("b") is None
    assert cache.get("a") == INVALID
    assert cache.get("c") == INVALID
    assert len(cache) == 2


def test_minus_one_disables_caching() -> None:
    cache = TokenCache(ttl_s=-1, clock=Clock())
    cache.put("a", INVALID)
    assert cache.get("a") is None


def test_keys_are_digests_not_tokens() -> None:
    assert token_key("secret-token") != "secret-token"
    assert len(token_key("secret-token")) == 64


def test_keystone_token_bodies_are_read_per_scope() -> None:
    project = parse_token(
        {
            "token": {
                "expires_at": "2030-01-01T00:00:00.000000Z",
                "user": {"id": "u1"},
                "project": {"id": "p1"},
                "roles": [{"id": "r", "name": "Member"}, {"id": "s", "name": "reader"}],
            }
        }
    )
    assert (project.project_id, project.domain_id, project.system_scope) == ("p1", None, None)
    assert project.roles == {"member", "reader"}
    assert project.expires_at == 1893456000.0
    system = parse_token(
        {
            "token": {
                "expires_at": "2030-01-01T00:00:00Z",
                "user": {"id": "u"},
                "system": {"all": True},
                "roles": [],
            }
        }
    )
    assert system.system_scope == "all" and system.project_id is None
    domain = parse_token(
        {
            "token": {
                "expires_at": "2030-01-01T00:00:00Z",
                "user": {"id": "u"},
                "domain": {"id": "d"},
                "roles": [],
            }
        }
    )
    assert domain.domain_id == "d"
    restricted = parse_token(
        {
            "token": {
                "expires_at": "2030-01-01T00:00:00Z",
                "user": {"id": "u"},
                "project": {"id": "p"},
                "roles": [],
                "application_credential": {"id": "a", "access_rules": []},
            }
        }
    )
    assert restricted.restricted
