"""domain_drift's comparison of libvirt's domains with the instances nova places on the host."""
from ansible_collections.osops.toolkit.plugins.modules.domain_drift import compare

A = "6c3f3f0e-1b7e-4b8f-9a52-0f4c8c1b2a01"
B = "9d1e2a44-7c55-4c1f-8f7e-3a2b1c0d9e02"
C = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c03"


def test_domains_nova_forgot_and_instances_libvirt_lost():
    assert compare([A, B], [B, C]) == ([A], [C])


def test_uuids_match_whatever_their_case_and_repeats_count_once():
    assert compare([A.upper(), B], [A, B, B]) == ([], [])


def test_both_differences_come_sorted_and_lowercase():
    assert compare([A.upper(), C.upper()], []) == ([C, A], [])
    assert compare([], [A, C]) == ([], [C, A])
    assert compare([], []) == ([], [])
