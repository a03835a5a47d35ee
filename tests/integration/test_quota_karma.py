"""quota_karma on the sandbox: tiers applied and read back from nova and neutron, promotion, abuse, usage floor."""
import datetime
import uuid

import openstack
import pytest
import yaml

SEED = {"compute": {"cores": 2, "instances": 2, "ram": 4096}, "network": {"port": 5, "floatingip": 0},
        "volume": {"volumes": 2, "gigabytes": 10}}
SPROUT = {"compute": {"cores": 8, "instances": 4, "ram": 16384}, "network": {"port": 20, "floatingip": 2},
          "volume": {"volumes": 5, "gigabytes": 50}}
POLICY = {"tiers": [{"name": "seed", "quotas": SEED},
                    {"name": "sprout", "after_days": 30, "min_usage_percent": 50, "quotas": SPROUT}]}


@pytest.fixture
def project(cloud):
    made = cloud.identity.create_project(name="osops-it-karma-%s" % uuid.uuid4().hex[:6], domain_id="default")
    cloud.identity.assign_project_role_to_user(made, cloud.identity.find_user("admin", domain_id="default"),
                                               cloud.identity.find_role("admin"))
    scoped = openstack.connect(cloud="osbox", project_name=made.name, project_domain_id="default")
    yield made, scoped
    for server in scoped.compute.servers():
        scoped.compute.delete_server(server)
        scoped.compute.wait_for_delete(server, wait=120)
    scoped.close()
    cloud.identity.delete_project(made)


def karma(project, **args):
    return [{"name": "karma", "osops.toolkit.quota_karma": dict({"policy": POLICY, "projects": [project.id]}, **args)}]


def limits(cloud, project_id):
    compute = cloud.compute.get("/os-quota-sets/%s" % project_id).json()["quota_set"]
    network = cloud.network.get("/quotas/%s.json" % project_id).json()["quota"]
    volume = cloud.block_storage.get("/os-quota-sets/%s" % project_id).json()["quota_set"]
    return {"compute": dict((k, compute[k]) for k in SEED["compute"]),
            "network": dict((k, network[k]) for k in SEED["network"]),
            "volume": dict((k, volume[k]) for k in SEED["volume"])}


def utc_today():
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def tags(cloud, project_id):
    return sorted(cloud.identity.get_project(project_id).tags)


def test_a_new_project_gets_the_first_tier_once_and_check_mode_changes_nothing(ansible, cloud, project):
    made, _scoped = project
    before = limits(cloud, made.id)
    checked = ansible(tasks=karma(made), check=True, diff=True)
    assert checked.rc == 0 and checked.task()["changed"] is True, checked.output
    assert limits(cloud, made.id) == before and tags(cloud, made.id) == []

    day_before = utc_today()
    run = ansible(tasks=karma(made))
    day_after = utc_today()
    assert run.rc == 0, run.output
    assert run.task()["projects"][0]["tier"] == "seed"
    assert limits(cloud, made.id) == SEED
    # the run may cross UTC midnight: the day it tagged is one of the two
    assert tags(cloud, made.id) in [["osops-karma-since:" + day, "osops-karma:seed"] for day in (day_before, day_after)]

    again = ansible(tasks=karma(made))
    assert again.rc == 0 and again.task()["changed"] is False, again.output


def test_usage_and_time_promote_abuse_holds_back(ansible, cloud, project, sandbox):
    made, scoped = project
    long_ago = (datetime.date.today() - datetime.timedelta(days=40)).isoformat()
    cloud.identity.update_project(made, tags=["osops-karma:seed", "osops-karma-since:" + long_ago, "abuse"])
    assert ansible(tasks=karma(made)).rc == 0
    image = cloud.image.find_image("tiny", ignore_missing=False)
    flavor = cloud.compute.find_flavor("m1.tiny", ignore_missing=False)
    server = scoped.compute.create_server(name="karma-vm", image_id=image.id, flavor_id=flavor.id, networks="none")
    scoped.compute.wait_for_server(server, wait=120, interval=1)

    held = ansible(tasks=karma(made))
    assert held.rc == 0, held.output
    assert held.task()["projects"][0]["tier"] == "seed" and "abuse" in held.task()["projects"][0]["reason"]
    assert limits(cloud, made.id) == SEED

    cloud.identity.update_project(made, tags=["osops-karma:seed", "osops-karma-since:" + long_ago])
    promoted = ansible(tasks=karma(made))
    assert promoted.rc == 0, promoted.output
    entry = promoted.task()["projects"][0]
    assert (entry["tier_before"], entry["tier"], entry["usage_percent"]) == ("seed", "sprout", 50.0)
    assert limits(cloud, made.id) == SPROUT
    assert "osops-karma:sprout" in tags(cloud, made.id)


def test_a_tier_never_sets_a_quota_below_usage(ansible, cloud, project):
    made, scoped = project
    image = cloud.image.find_image("tiny", ignore_missing=False)
    flavor = cloud.compute.find_flavor("m1.tiny", ignore_missing=False)
    server = scoped.compute.create_server(name="karma-vm", image_id=image.id, flavor_id=flavor.id, networks="none")
    scoped.compute.wait_for_server(server, wait=120, interval=1)
    tight = {"tiers": [{"name": "frozen", "quotas": {"compute": {"instances": 0, "cores": 0}}}]}
    run = ansible(tasks=karma(made, policy=tight))
    assert run.rc == 0, run.output
    assert limits(cloud, made.id)["compute"]["instances"] == 1
    assert limits(cloud, made.id)["compute"]["cores"] == 1
    assert any("instances: 1 in use" in r for r in run.task()["projects"][0]["raised"])


def test_a_bad_policy_is_refused(ansible, cloud, project):
    made, _scoped = project
    run = ansible(tasks=karma(made, policy={"tiers": [{"name": "x", "quotas": {"dns": {"zones": 1}}}]}))
    assert run.rc != 0 and "unknown service 'dns'" in run.task()["msg"]
    assert tags(cloud, made.id) == []


def test_the_playbook_reads_the_policy_file(ansible, cloud, project, tmp_path):
    made, _scoped = project
    policy = tmp_path / "karma.yml"
    policy.write_text(yaml.safe_dump(POLICY))
    run = ansible(playbook="osops.toolkit.quota_karma",
                  extra_vars={"quota_karma_policy_file": str(policy), "quota_karma_projects": [made.id]})
    assert run.rc == 0, run.output
    assert limits(cloud, made.id) == SEED
    missing = ansible(playbook="osops.toolkit.quota_karma", extra_vars={})
    assert missing.rc != 0
    assert missing.argument_errors() == ["missing required arguments: quota_karma_policy_file"]
