import pytest

from tmf_oss.tmf.errors import TmfError
from tmf_oss.tmf.etags import check_if_match, etag
from tmf_oss.tmf.lru import BoundedCache


@pytest.mark.parametrize("header", [None, '"3"', 'W/"3"', '"1", "3"', "*", ' "2" ,"3" '])
def test_if_match_accepts_the_current_tag(header):
    check_if_match(header, 3)


@pytest.mark.parametrize("header", ['"2"', '"1", "2"', "3", 'W/"4"'])
def test_if_match_refuses_others_with_412_and_the_current_tag(header):
    with pytest.raises(TmfError) as info:
        check_if_match(header, 3)
    assert info.value.status == 412 and info.value.headers["ETag"] == etag(3)


def test_bounded_cache_evicts_the_least_recently_used():
    cache = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
