"""quota_karma's tier decisions and quota targets."""
import datetime

from ansible_collections.osops.toolkit.plugins.module_utils import _karma as karma

TIERS = [{"name": "seed", "quotas": {"compute": {"cores": 2}}},
         {"name": "sprout", "after_days": 30, "min_usage_percent": 50, "quotas": {"compute": {"cores": 8}}},
         {"name": "tree", "after_days": 90, "min_usage_percent": 60, "quotas": {"compute": {"cores": -1}}}]
TODAY = datetime.date(2026, 11, 22)


def test_policy_errors_name_every_problem():
    assert karma.policy_errors({"tiers": TIERS}) == []
    assert karma.policy_errors({}) == ["the policy needs a non-empty list 'tiers'"]
    errors = karma.policy_errors({"tiers": [{"name": "a", "after_days": -1, "quotas": {"dns": {}}},
                                            {"name": "a", "quotas": {"compute": {"cores": "many"}}}, {}]})
    assert errors == ["tier 'a': after_days must be a number of 0 or more",
                      "tier 'a': unknown service 'dns' (one of compute, network, volume)",
                      "tier 'a' is defined twice",
                      "tier 'a': the compute quotas must be whole numbers (-1: unlimited)",
                      "tier 3 needs a name"]


def test_tags_round_trip_and_a_new_project_starts_today_at_the_bottom():
    assert karma.read_tags([], TIERS, TODAY) == (0, TODAY)
    tags = karma.write_tags(["team-a", "osops-karma:seed"], "sprout", datetime.date(2026, 1, 2))
    assert tags == ["osops-karma-since:2026-01-02", "osops-karma:sprout", "team-a"]
    assert karma.read_tags(tags, TIERS, TODAY) == (1, datetime.date(2026, 1, 2))
    assert karma.read_tags(["osops-karma:gone", "osops-karma-since:bad"], TIERS, TODAY) == (0, TODAY)


def test_usage_percent_is_the_highest_share_of_limited_quotas():
    usage = {"cores": {"limit": 4, "in_use": 1}, "ram": {"limit": 1000, "in_use": 600},
             "instances": {"limit": -1, "in_use": 9}, "key_pairs": {"limit": 1, "in_use": 1}}
    assert karma.usage_percent(usage) == 60.0


def test_decide_needs_days_usage_and_no_abuse_and_moves_one_tier_at_a_time():
    long_ago = TODAY - datetime.timedelta(days=400)
    assert karma.decide(TIERS, 0, TODAY - datetime.timedelta(days=10), TODAY, 90, set())[0] == 0
    assert karma.decide(TIERS, 0, long_ago, TODAY, 40, set())[0] == 0
    index, since, reason = karma.decide(TIERS, 0, long_ago, TODAY, 50, set())
    assert (index, since) == (1, TODAY) and reason.startswith("promoted to sprout")
    index, since, reason = karma.decide(TIERS, 0, long_ago, TODAY, 99, {"abuse"})
    assert (index, since) == (0, TODAY) and "abuse" in reason
    assert karma.decide(TIERS, 2, long_ago, TODAY, 99, set())[:2] == (2, long_ago)


def test_targets_never_go_below_usage_and_only_differences_change():
    target, raised = karma.target_quotas({"quotas": {"compute": {"cores": 2, "instances": -1}}},
                                         {"compute": {"cores": {"in_use": 5}, "instances": {"in_use": 3}}})
    assert target == {"compute": {"cores": 5, "instances": -1}}
    assert raised == ["compute cores: 5 in use, kept at 5 instead of 2"]
    assert karma.quota_changes({"compute": {"cores": 5, "instances": 10}}, target) == {"compute": {"instances": -1}}
