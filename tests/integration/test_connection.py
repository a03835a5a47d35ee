"""The base class's connection rules against the real Keystone and Ironic."""
import pytest
import yaml

from ansible_collections.osops.toolkit.plugins.module_utils._cloud import (
    CloudConnectError,
    cloud_region,
    cloud_argument_spec,
    open_connection,
)


def _params(**overrides):
    params = dict((k, v.get("default")) for k, v in cloud_argument_spec().items())
    params.update(overrides)
    return params


def test_a_project_scoped_cloud_gets_a_system_scoped_connection_for_ironic(cloud):
    region = cloud_region(_params(cloud="osbox"))
    project = open_connection(region)
    with pytest.raises(Exception) as denied:
        list(project.baremetal.drivers())
    assert "system" in str(denied.value)  # Ironic's scoped policy refuses the project token
    system = open_connection(region, system_scope=True)
    assert "fake-hardware" in [d.name for d in system.baremetal.drivers()]
    assert system.current_project_id is None


def test_a_system_scoped_cloud_is_used_as_it_is(cloud):
    system = open_connection(cloud_region(_params(cloud="osbox-system")), system_scope=True)
    assert "fake-hardware" in [d.name for d in system.baremetal.drivers()]


def test_bad_credentials_say_why_without_the_password(cloud):
    region = cloud_region(_params(cloud="osbox", auth={"password": "not-it-42"}))
    with pytest.raises(CloudConnectError) as error:
        open_connection(region)
    assert str(error.value).startswith("Could not log in to the cloud:")
    assert "401" in str(error.value) and "not-it-42" not in str(error.value)


def test_a_whole_cloud_config_can_be_given_inline(sandbox):
    """cloud: {...} (for example from a vault) instead of a clouds.yaml entry."""
    with open(sandbox) as handle:
        inline = yaml.safe_load(handle)["clouds"]["osbox"]
    conn = open_connection(cloud_region(_params(cloud=inline)))
    assert "fake-compute-1" in [s.host for s in conn.compute.services()]
