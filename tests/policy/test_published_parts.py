"""Remedies, destruction, rights and safety measures in the policy file, as check sees them."""

from __future__ import annotations

import pytest

from haechi.policy import check_policy_text, demo_policy_text, parse_policy
from haechi.policy.formats import check_phone, check_web_address

DEMO = demo_policy_text()


def locations(text: str) -> dict[str, str]:
    return {problem.location: problem.message for problem in check_policy_text(text)}


def test_demo_carries_the_reference_remedies_and_measures() -> None:
    """It declares the four outside institutions, the destruction methods, forms and §6 measures."""
    policy = parse_policy(DEMO).policy
    assert [(remedy.phone, remedy.site) for remedy in policy.remedies] == [
        ("118", "https://privacy.kisa.or.kr"),
        ("1833-6972", "https://www.kopico.go.kr"),
        ("1301", "https://www.spo.go.kr"),
        ("182", "https://cyberbureau.police.go.kr"),
    ]
    assert [step.value for step in policy.destruction.procedure] == [
        "separate",
        "destroy",
        "confirm",
    ]
    assert [method.value for method in policy.destruction.paper] == ["shredding", "incineration"]
    assert (policy.rights.forms.request.annex, policy.rights.forms.power_of_attorney.annex) == (
        8,
        11,
    )
    assert "portal" in policy.rights.channels
    assert policy.rights.portal is not None
    kinds = {measure.kind.value: measure for measure in policy.safety_measures}
    assert set(kinds) == {
        "in_house_audit",
        "minimum_staff",
        "staff_training",
        "management_plan",
        "anti_virus",
        "locked_storage",
        "restricted_area",
    }
    assert kinds["in_house_audit"].frequency == "P3M"


@pytest.mark.parametrize(
    "number", ["118", "182", "1301", "1833-6972", "02-555-0100", "010-2345-6789", "+82 2 555 0100"]
)
def test_korean_numbers_and_short_codes_pass(number: str) -> None:
    """It accepts full Korean numbers, representative numbers and public short codes."""
    assert check_phone(number) == number


@pytest.mark.parametrize("number", ["11", "9999", "02-555-01", "call us", "11a", "118-"])
def test_numbers_nobody_can_dial_are_refused(number: str) -> None:
    """It refuses what is neither a valid number nor a known short code."""
    with pytest.raises(ValueError, match="phone"):
        check_phone(number)


@pytest.mark.parametrize(
    "address",
    [
        "privacy.kisa.or.kr",
        "ftp://privacy.kisa.or.kr",
        "https://",
        "https://localhost",
        "https://a.kr/b c",
    ],
)
def test_web_addresses_need_a_scheme_and_a_host(address: str) -> None:
    """It refuses an address without http(s), without a real host, or with spaces."""
    with pytest.raises(ValueError, match=r"https?://|host|spaces"):
        check_web_address(address)


def test_every_bad_remedy_field_is_located() -> None:
    """It names the remedy and field of a bad phone and a bad site, with exit-worthy problems."""
    text = DEMO.replace('phone = "1833-6972"', 'phone = "1833-69"').replace(
        'site = "https://cyberbureau.police.go.kr"', 'site = "cyberbureau.police.go.kr"'
    )
    problems = locations(text)
    assert "remedies[1].phone" in problems
    assert "phone" in problems["remedies[1].phone"]
    assert "https://" in problems["remedies[3].site"]


def test_audit_frequency_is_checked() -> None:
    """It refuses an in-house audit rarer than quarterly, or with no frequency at all."""
    rare = DEMO.replace(
        'kind = "in_house_audit"\nfrequency = "P3M"', 'kind = "in_house_audit"\nfrequency = "P6M"'
    )
    assert "too rare" in locations(rare)["safety_measures[0].frequency"]
    missing = DEMO.replace('kind = "in_house_audit"\nfrequency = "P3M"', 'kind = "in_house_audit"')
    assert "needs a frequency" in locations(missing)["safety_measures[0].frequency"]
    malformed = DEMO.replace('frequency = "P3M"', 'frequency = "quarterly"')
    assert "ISO-8601" in locations(malformed)["safety_measures[0].frequency"]
    twice = DEMO.replace('kind = "minimum_staff"', 'kind = "in_house_audit"\nfrequency = "P1M"')
    assert "listed twice" in locations(twice)["safety_measures[1].kind"]


def test_destruction_procedure_separates_first() -> None:
    """It refuses a procedure that destroys before separating, and unknown methods."""
    problems = locations(
        DEMO.replace(
            'procedure = ["separate", "destroy", "confirm"]', 'procedure = ["destroy", "separate"]'
        ).replace('paper = ["shredding", "incineration"]', 'paper = ["recycling"]')
    )
    assert "separate" in problems["destruction.procedure[0]"]
    assert "destruction.paper[0]" in problems


def test_offered_channels_must_say_where() -> None:
    """It refuses a fax, web or portal channel whose number or address is not given."""
    text = (
        DEMO.replace('fax = "02-555-0101"\n', "")
        .replace('web = "https://www.example.com/privacy/requests"\n', "")
        .replace(
            'channels = ["document", "email", "fax", "web", "portal"]',
            'channels = ["document", "email", "fax", "web", "portal", "pigeon"]',
        )
    )
    problems = locations(text)
    assert {"handling_team.fax", "rights.web", "rights.channels[5]"} <= set(problems)
    portal = DEMO.index("[rights.portal]")
    no_portal = DEMO[:portal] + DEMO[DEMO.index("# Statutory forms") :]
    assert "rights.portal" in locations(no_portal)


def test_a_file_without_the_new_parts_still_loads() -> None:
    """It loads a policy from before remedies and measures existed, with the reference defaults."""
    old = DEMO.split("# Rights people exercise")[0] + '[rights]\nchannels = ["document", "email"]\n'
    statute = old[old.index("statute = {") : old.index(", retention")]
    old = old.replace(statute, 'statute = "전자상거래법 제6조"').replace(
        'fax = "02-555-0101"\n', ""
    )
    policy = parse_policy(old).policy
    assert policy.remedies == []
    assert policy.safety_measures == []
    assert [step.value for step in policy.destruction.procedure] == [
        "separate",
        "destroy",
        "confirm",
    ]
    assert policy.rights.forms.request.annex == 8
    assert policy.purposes["complaints"].legal_hold is not None
    assert policy.purposes["complaints"].legal_hold.statute_text("en") == "전자상거래법 제6조"
