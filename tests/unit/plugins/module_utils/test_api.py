"""The one request helper and the one page reader of the collection."""
import pytest
import requests
from openstack import exceptions as sdk_exceptions

from ansible_collections.osops.toolkit.plugins.module_utils import _api as api
from ansible_collections.osops.toolkit.plugins.module_utils._infra import RequestCounter


def response(status, body, request_id="req-0f1e"):
    made = requests.Response()
    made.status_code = status
    made._content = requests.compat.json.dumps(body).encode()
    made.headers["Content-Type"] = "application/json"
    made.headers["x-openstack-request-id"] = request_id
    made.url = "http://nova/v2.1/os-migrations"
    made.request = requests.Request("GET", made.url).prepare()
    return made


class Proxy(object):
    """A service that pages like nova (``<key>_links``) or ironic (``next``)."""

    def __init__(self, items, page=2, style="nova", repeat=False):
        self.items, self.page, self.style, self.repeat, self.calls = items, page, style, repeat, []

    def get(self, path, params=None, microversion=None):
        params = dict(params or {})
        self.calls.append((path, params, microversion))
        start = 0
        if params.get("marker"):
            start = [i["id"] for i in self.items].index(params["marker"]) + 1
        if self.repeat:
            start = 0
        page = self.items[start:start + self.page]
        body = {"migrations": page}
        if start + self.page < len(self.items) or self.repeat:
            href = "http://nova/v2.1/os-migrations?limit=%d&marker=%s" % (self.page, page[-1]["id"])
            if self.style == "nova":
                body["migrations_links"] = [{"rel": "next", "href": href}]
            else:
                body["next"] = href
        return response(200, body)


@pytest.mark.parametrize("style", ["nova", "ironic"])
def test_every_page_is_read_by_its_next_link_whatever_the_page_length(style):
    proxy = Proxy([{"id": "m%d" % i} for i in range(5)], style=style)
    counter = RequestCounter()
    items = list(api.paged(proxy, "/os-migrations", "migrations", {"hidden": "1"}, api.NOVA_MIGRATIONS,
                           page_size=1000, counter=counter))
    assert [i["id"] for i in items] == ["m0", "m1", "m2", "m3", "m4"]
    # the service answered 2 per page although 1000 were asked: only the links tell the last page
    assert [call[1].get("marker") for call in proxy.calls] == [None, "m1", "m3"]
    assert all(call[1]["limit"] == 1000 and call[1]["hidden"] == "1" and call[2] == "2.59" for call in proxy.calls)
    assert counter.requests == 3


def test_a_marker_seen_twice_ends_the_listing():
    proxy = Proxy([{"id": "m0"}, {"id": "m1"}], repeat=True)
    assert [i["id"] for i in api.paged(proxy, "/os-migrations", "migrations")] == ["m0", "m1", "m0", "m1"]
    assert len(proxy.calls) == 2


class Failing(object):
    def __init__(self, status):
        self.status = status

    def get(self, path, params=None, microversion=None):
        return response(self.status, {"itemNotFound" if self.status == 404 else "computeFault":
                                      {"message": "it went wrong", "code": self.status}})


def test_an_http_error_raises_with_its_status_and_request_id():
    with pytest.raises(sdk_exceptions.HttpException) as error:
        api.get_json(Failing(500), "/os-migrations")
    assert error.value.status_code == 500 and error.value.request_id == "req-0f1e"
    with pytest.raises(sdk_exceptions.NotFoundException):
        api.get_json(Failing(404), "/resource_providers/x/usages")
    assert api.get_json(Failing(404), "/resource_providers/x/usages", missing_ok=True) is None
    with pytest.raises(sdk_exceptions.HttpException):
        list(api.paged(Failing(503), "/os-migrations", "migrations"))
