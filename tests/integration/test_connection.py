"""The base class's connection rules against the real Keystone and Ironic."""
import json
import time
import uuid

import ansible_runner
import openstack
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
    # Ironic's scoped policy refuses the project token (this Ironic says so with an HTTP 500)
    with pytest.raises(openstack.exceptions.HttpException,
                       match=r"requires a scope of \['system'\], request was made with project scope"):
        list(project.baremetal.drivers())
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
    # where and as whom, so that the operator sees which entry is wrong
    assert str(error.value).endswith(
        "(tried at http://127.0.0.1:5000/v3 as user admin (domain Default) in project admin).")


def test_a_whole_cloud_config_can_be_given_inline(sandbox):
    """cloud: {...} (for example from a vault) instead of a clouds.yaml entry."""
    with open(sandbox) as handle:
        inline = yaml.safe_load(handle)["clouds"]["osbox"]
    conn = open_connection(cloud_region(_params(cloud=inline)))
    assert "fake-compute-1" in [s.host for s in conn.compute.services()]


# ---------------------------------------------------------------- secrets in the module arguments

MODULE = "osops.toolkit.network_agent_info"  # one Neutron call: light, and Neutron is never stopped by tests


@pytest.fixture(scope="module")
def secret_user(cloud, sandbox, tmp_path_factory):
    """A keystone user whose password has quotes, a backslash and shell characters, with an admin
    role on the admin project and an application credential with such a secret; deleted after."""
    token = uuid.uuid4().hex[:12]  # in the password only
    name = "osops-it-secret-%s" % uuid.uuid4().hex[:12]
    password = "Pw\"q'\\%s$%%:@ x" % token
    project = cloud.identity.find_project("admin", domain_id="default", ignore_missing=False)
    role = cloud.identity.find_role("admin", ignore_missing=False)
    user = cloud.identity.create_user(name=name, password=password, domain_id="default",
                                      default_project_id=project.id)
    try:
        cloud.identity.assign_project_role_to_user(project, user, role)
        with open(sandbox) as handle:
            auth_url = yaml.safe_load(handle)["clouds"]["osbox"]["auth"]["auth_url"]
        auth = {"auth_url": auth_url, "username": name, "password": password, "user_domain_name": "Default",
                "project_name": "admin", "project_domain_name": "Default"}
        as_user = openstack.connect(auth=auth, region_name="RegionOne", load_yaml_config=False,
                                    load_envvars=False)
        ac_token = uuid.uuid4().hex[:12]
        credential = None
        for _attempt in range(30):
            try:
                credential = as_user.identity.create_application_credential(
                    user=user.id, name="osops-it-%s" % ac_token, secret="Ac'\"%s\\#" % ac_token)
                break
            except openstack.exceptions.BadRequestException as error:
                # a keystone worker whose cache does not know the new role assignment yet
                assert "Could not find role assignment" in str(error)
                time.sleep(1)
        assert credential is not None, "keystone never saw the role assignment of %s" % name
        # a client certificate and key (an http endpoint does not use them, but they are passed on)
        key_token = uuid.uuid4().hex[:12]
        client = tmp_path_factory.mktemp("client")
        (client / "client.crt").write_text("not used over http\n")
        (client / ("client-%s.key" % key_token)).write_text("not used over http\n")
        yield {"name": name, "auth": auth, "password": password, "token": token,
               "credential_id": credential.id, "credential_secret": credential.secret, "ac_token": ac_token,
               "keystone_token": as_user.auth_token, "client_cert": str(client / "client.crt"),
               "client_key": str(client / ("client-%s.key" % key_token)), "key_token": key_token}
    finally:
        cloud.identity.delete_user(user, ignore_missing=True)  # its application credentials go with it


def _inline(sandbox, auth, **overrides):
    """The sandbox's osbox entry as an inline cloud dict, with other credentials."""
    with open(sandbox) as handle:
        cloud = yaml.safe_load(handle)["clouds"]["osbox"]
    cloud.update(auth=auth, **overrides)
    return cloud


def _secret_play(sandbox, user):
    """One task per form of the connection arguments and per mistake; the failures are kept going
    so that every result is printed and registered."""
    wrong_token = uuid.uuid4().hex[:12]
    wrong = "Wr0ng\"'-%s" % wrong_token
    notadict = "pw-in-the-wrong-place-%s" % uuid.uuid4().hex[:12]
    clouds = {
        "password": _inline(sandbox, user["auth"]),
        "application_credential": _inline(sandbox, {
            "auth_url": user["auth"]["auth_url"], "application_credential_id": user["credential_id"],
            "application_credential_secret": user["credential_secret"]}, auth_type="v3applicationcredential"),
        "wrong_password": _inline(sandbox, dict(user["auth"], password=wrong)),
        "token": _inline(sandbox, {
            "auth_url": user["auth"]["auth_url"], "token": user["keystone_token"], "project_name": "admin",
            "project_domain_name": "Default"}, auth_type="v3token"),
        "client_key": _inline(sandbox, user["auth"], cert=user["client_cert"], key=user["client_key"]),
        "typo_auth_type": _inline(sandbox, user["auth"], auth_type="passwrod"),
        "auth_not_a_dict": _inline(sandbox, notadict),
    }

    def task(name, ignore=False, **args):
        entry = {"name": name, MODULE: dict({"host": "osops-it-nowhere"}, **args), "register": "r_" + name}
        if ignore:
            entry["ignore_errors"] = True
        return entry

    tasks = [
        task("password", cloud="{{ clouds.password }}"),
        task("application_credential", cloud="{{ clouds.application_credential }}"),
        task("auth_option", cloud="osbox", auth="{{ auth_option }}"),
        task("token", cloud="{{ clouds.token }}"),
        task("client_key", cloud="{{ clouds.client_key }}"),
        task("client_key_option", cloud="{{ clouds.password }}", client_cert=user["client_cert"],
             client_key="{{ client_key }}"),
        task("wrong_password", ignore=True, cloud="{{ clouds.wrong_password }}"),
        task("unsupported_option", ignore=True, cloud="{{ clouds.password }}", bogus=1),
        task("typo_auth_type", ignore=True, cloud="{{ clouds.typo_auth_type }}"),
        task("auth_not_a_dict", ignore=True, cloud="{{ clouds.auth_not_a_dict }}"),
        {"name": "registered results", "ansible.builtin.debug": {"var": "[r_password, r_application_credential, "
                                                                        "r_auth_option, r_token, r_client_key, "
                                                                        "r_client_key_option, r_wrong_password, "
                                                                        "r_unsupported_option, r_typo_auth_type, "
                                                                        "r_auth_not_a_dict]"}},
    ]
    # in a file, as from a vault: at -vvvv ansible-playbook prints the -e values of its command line
    extra_vars = {"clouds": clouds, "auth_option": {"username": user["name"], "password": user["password"]},
                  "client_key": user["client_key"]}
    # each secret, and a part of it without quotes (a JSON or repr escape must not hide a leak)
    secrets = [user["password"], user["token"], user["credential_secret"], user["ac_token"], wrong,
               wrong_token, notadict, user["keystone_token"], user["keystone_token"][8:40], user["key_token"]]
    return tasks, extra_vars, secrets


def _assert_no_secret(text, secrets, where):
    for secret in secrets:
        at = text.find(secret)
        assert at < 0, "a secret is printed in %s: ...%s..." % (where, text[max(0, at - 300):at + 100])


def _vars_file(tmp_path, extra_vars):
    path = tmp_path / "secrets.yml"
    path.write_text(json.dumps(extra_vars))
    return ["-e", "@%s" % path]


def test_no_form_of_the_connection_arguments_prints_a_secret(ansible, sandbox, secret_user, tmp_path):
    tasks, extra_vars, secrets = _secret_play(sandbox, secret_user)
    run = ansible(tasks=tasks, playbook_args=_vars_file(tmp_path, extra_vars))
    _assert_no_secret(run.output, secrets, "the results")
    results = dict((name, run.task(index)) for index, name in enumerate(
        ["password", "application_credential", "auth_option", "token", "client_key", "client_key_option",
         "wrong_password", "unsupported_option", "typo_auth_type", "auth_not_a_dict"]))
    for name in ("password", "application_credential", "auth_option", "token", "client_key", "client_key_option"):
        assert not results[name].get("failed"), results[name]
        assert results[name]["agents"] == []
    auth = secret_user["auth"]
    # what is not secret stays readable, in the arguments and in the error
    args = results["password"]["invocation"]["module_args"]["cloud"]["auth"]
    assert (args["auth_url"], args["username"], args["project_name"]) == (
        auth["auth_url"], secret_user["name"], "admin")
    assert results["auth_option"]["invocation"]["module_args"]["auth"]["username"] == secret_user["name"]
    assert results["application_credential"]["invocation"]["module_args"]["cloud"]["auth"][
        "application_credential_id"] == secret_user["credential_id"]

    msg = results["wrong_password"]["msg"]
    assert msg.startswith("Could not log in to the cloud: The request you have made requires authentication.")
    assert "401" in msg and ("(tried at %s as user %s (domain Default) in project admin)." % (
        auth["auth_url"], secret_user["name"])) in msg

    assert results["unsupported_option"]["msg"].startswith(
        "Unsupported parameters for (%s) module: bogus." % MODULE)
    assert results["unsupported_option"]["invocation"]["module_args"]["cloud"]["auth"]["auth_url"] == \
        auth["auth_url"]

    typo = results["typo_auth_type"]
    assert typo["msg"].startswith("The auth_type 'passwrod' of the inline cloud is not a keystoneauth plugin; "
                                  "use one of ")
    assert " password, " in typo["msg"] and "v3applicationcredential" in typo["msg"]
    notadict = results["auth_not_a_dict"]
    assert notadict["msg"] == ("The auth of the inline cloud is a str; it must be a dict like the auth "
                               "section of a clouds.yaml entry (auth_url, username, password, "
                               "project_name, ...).")
    for result in (typo, notadict):  # a sentence, not a module crash
        assert "module_stderr" not in result and "Traceback" not in json.dumps(result)


def test_the_verbose_output_and_the_awx_job_events_carry_no_secret(sandbox, secret_user, tmp_path):
    """-vvvv (the module arguments of every task, the results, the connection's debug lines) as
    AWX runs a job: ansible-runner, whose callback prints what the default one does and records
    each event (with the task's result) for AWX to store and show."""
    tasks, extra_vars, secrets = _secret_play(sandbox, secret_user)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "play.yml").write_text(yaml.safe_dump([{
        "name": "test", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]))
    env = {"OS_CLIENT_CONFIG_FILE": sandbox, "OS_CLOUD": "osbox", "ANSIBLE_LOCALHOST_WARNING": "false",
           "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false"}
    runner = ansible_runner.run(private_data_dir=str(tmp_path), playbook="play.yml", envvars=env,
                                extravars=extra_vars, verbosity=4, quiet=True,
                                settings={"suppress_ansible_output": True})
    stdout = runner.stdout.read()
    events = json.dumps(list(runner.events))
    assert runner.rc == 0, stdout[-3000:]
    assert "<127.0.0.1> EXEC" in stdout and '"module_args": {' in stdout and secret_user["name"] in stdout
    assert "Could not log in to the cloud" in stdout and "Unsupported parameters" in stdout
    assert "Traceback" not in stdout
    _assert_no_secret(stdout, secrets, "the -vvvv output")
    assert "Could not log in to the cloud" in events and secret_user["name"] in events
    _assert_no_secret(events, secrets, "the job events")
