"""AWX/AAP survey specs (extensions/awx/surveys/<playbook>.json) against the argument specs of
their playbooks: every answer a survey can give must pass the validation the playbook runs."""
import glob
import json
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SURVEYS = os.path.join(ROOT, "extensions", "awx", "surveys")
PLAYBOOKS = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(ROOT, "playbooks", "*.yml")))
TEXT_TYPES = {"str", "path", "raw"}


def _role_spec(role, entry_point):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as f:
        return yaml.safe_load(f)["argument_specs"][entry_point]["options"]


def playbook_variables(name):
    """What a playbook validates: {variable: (spec, entry point is main)}, its plays' host-pattern
    variables, and the variables its plays define (which a survey may leave out)."""
    with open(os.path.join(ROOT, "playbooks", name + ".yml")) as f:
        plays = yaml.safe_load(f)
    specs, host_vars, play_vars = {}, set(), set()
    for play in plays:
        host_vars.update(re.findall(r"{{\s*(\w+)", str(play.get("hosts", ""))))
        play_vars.update(play.get("vars") or {})
        for role in play.get("roles", []):
            role_name = role["role"] if isinstance(role, dict) else role
            for var, spec in _role_spec(role_name.split(".")[-1], "main").items():
                specs[var] = (spec, True)
        for task in play.get("tasks", []):
            if "ansible.builtin.validate_argument_spec" in task:
                for var, spec in task["ansible.builtin.validate_argument_spec"]["argument_spec"].items():
                    specs[var] = (spec, True)
            if "ansible.builtin.include_role" in task:
                include = task["ansible.builtin.include_role"]
                entry = include.get("tasks_from", "main")
                for var, spec in _role_spec(include["name"].split(".")[-1], entry).items():
                    specs.setdefault(var, (spec, entry == "main"))
    return specs, host_vars, play_vars


def load_survey(name):
    with open(os.path.join(SURVEYS, name + ".json")) as f:
        return json.load(f)


def test_every_playbook_has_a_survey_and_every_survey_a_playbook():
    surveys = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(SURVEYS, "*.json")))
    assert surveys == PLAYBOOKS


def test_every_playbook_validates_its_input():
    for name in PLAYBOOKS:
        specs, _host_vars, _play_vars = playbook_variables(name)
        assert specs, "%s has no argument spec: survey answers would go unchecked" % name


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_survey_matches_the_argument_spec(name):
    survey = load_survey(name)
    assert survey["name"] and survey["description"]
    specs, host_vars, play_vars = playbook_variables(name)
    questions = survey["spec"]
    variables = [q["variable"] for q in questions]
    assert len(variables) == len(set(variables)), "a variable asked twice"
    for question in questions:
        var, kind = question["variable"], question["type"]
        assert question["question_name"], var
        if var in host_vars:
            assert kind == "text" and question["required"], "%s picks the play's hosts" % var
            continue
        assert var in specs, "%s: %s is not in the playbook's argument spec" % (name, var)
        spec, main_entry = specs[var]
        spec_type = spec.get("type", "str")
        choices = spec.get("choices")
        if kind in ("text", "textarea"):
            assert spec_type in TEXT_TYPES, "%s: %s is %s, a text answer would not do" % (name, var, spec_type)
            assert not spec.get("no_log"), "%s: %s is a secret: use a password question" % (name, var)
            assert not choices, "%s: %s has choices: use multiplechoice" % (name, var)
        elif kind == "password":
            assert spec_type in TEXT_TYPES and spec.get("no_log"), "%s: %s must be a no_log string" % (name, var)
        elif kind == "integer":
            assert spec_type == "int", (name, var)
            assert isinstance(question["default"], int) and question["min"] <= question["default"] <= question["max"]
        elif kind == "float":
            assert spec_type == "float", (name, var)
        elif kind == "multiplechoice":
            if spec_type == "bool":
                # AWX answers a string; the spec accepts it and the roles/playbooks use "| bool"
                assert question["choices"] == ["false", "true"], (name, var)
            else:
                assert spec_type in TEXT_TYPES and choices, "%s: %s has no choices in the spec" % (name, var)
                assert set(question["choices"]) <= set(choices), (name, var, question["choices"], choices)
            assert question["default"] in question["choices"] or (not question["required"] and question["default"] == "")
        elif kind == "multiselect":
            assert spec_type == "list" and choices, (name, var)
            assert set(question["choices"]) <= set(choices), (name, var)
            assert set(question["default"].split("\n")) <= set(question["choices"])
        else:
            pytest.fail("%s: %s has an unknown survey type %s" % (name, var, kind))
    for var, (spec, main_entry) in specs.items():
        if spec.get("required") and main_entry and var not in play_vars:
            assert var in variables and next(q for q in questions if q["variable"] == var)["required"], \
                "%s: %s is required by the playbook, the survey must ask for it" % (name, var)
