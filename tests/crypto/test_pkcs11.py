"""The PKCS#11 provider against a real SoftHSM2 token: keys made, used and destroyed inside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pkcs11 import Attribute, KeyType, ObjectClass
from pydantic import SecretStr

from haechi import ConsentEvidence, Engine, Settings
from haechi.config import KeySettings
from haechi.crypto.keys import UnwrapError, new_data_key
from haechi.crypto.pkcs11 import Pkcs11KeyProvider
from haechi.engine import SYSTEM
from haechi.engine.base import open_key_provider
from haechi.errors import ConfigurationError
from haechi.policy import demo_policy_text, parse_policy
from tests.conftest import PERSON, Database, FakeClock, cheap_auth
from tests.crypto.conftest import PIN, SOFTHSM_MODULE


def _token_key(provider: Pkcs11KeyProvider, label: str) -> object:
    return provider._session.get_key(  # the test looks inside the token
        label=label, key_type=KeyType.AES, object_class=ObjectClass.SECRET_KEY
    )


def test_epoch_keys_are_made_in_the_token_and_never_leave_it(hsm: Pkcs11KeyProvider) -> None:
    """It generates each epoch key sensitive and non-extractable, and wraps inside the token."""
    hsm.create_epoch("ep-m20270301-0123456789")
    key = _token_key(hsm, "ep-m20270301-0123456789")
    assert key[Attribute.SENSITIVE] is True  # type: ignore[index]
    assert key[Attribute.EXTRACTABLE] is False  # type: ignore[index]
    data_key = new_data_key()
    wrapped = hsm.wrap_epoch("ep-m20270301-0123456789", data_key, context=b"haechi-dek|main|c1")
    assert data_key not in wrapped
    assert hsm.unwrap_epoch("ep-m20270301-0123456789", wrapped, context=b"haechi-dek|main|c1") == (
        data_key
    )
    with pytest.raises(UnwrapError):
        hsm.unwrap_epoch("ep-m20270301-0123456789", wrapped, context=b"haechi-dek|main|c2")


def test_a_destroyed_epoch_key_is_gone_from_the_token(hsm: Pkcs11KeyProvider) -> None:
    """It destroys the object in the token: nothing it wrapped opens any more."""
    hsm.create_epoch("ep-m20270302-0123456789")
    wrapped = hsm.wrap_epoch("ep-m20270302-0123456789", new_data_key(), context=b"c")
    hsm.destroy_epoch("ep-m20270302-0123456789")
    assert not hsm.has_epoch("ep-m20270302-0123456789")
    with pytest.raises(UnwrapError):
        hsm.unwrap_epoch("ep-m20270302-0123456789", wrapped, context=b"c")
    hsm.destroy_epoch("ep-m20270302-0123456789")  # again: nothing to do, no error


def test_the_master_and_derived_keys_stay_in_the_token(token_label: str) -> None:
    """It opens the same master key and derivations in a later session (a restart)."""
    first = Pkcs11KeyProvider(SOFTHSM_MODULE, token_label=token_label, pin=PIN)
    wrapped = first.wrap(b"k" * 32, context=b"rights|r1")
    derived = first.derive("blind-index-v1")
    first.close()
    again = Pkcs11KeyProvider(SOFTHSM_MODULE, token_label=token_label, pin=PIN)
    assert again.unwrap(wrapped, context=b"rights|r1") == b"k" * 32
    assert again.derive("blind-index-v1") == derived != again.derive("rights-code-v1")
    again.close()


def test_a_wrong_pin_or_token_is_a_configuration_error(token_label: str) -> None:
    """It refuses to start on a wrong PIN or an unknown token, naming neither secret."""
    with pytest.raises(ConfigurationError) as wrong_pin:
        Pkcs11KeyProvider(SOFTHSM_MODULE, token_label=token_label, pin="000000")
    assert "000000" not in str(wrong_pin.value)
    with pytest.raises(ConfigurationError):
        Pkcs11KeyProvider(SOFTHSM_MODULE, token_label="no-such-token", pin=PIN)


def test_settings_choose_the_token(token_label: str, tmp_path: Path) -> None:
    """It builds the provider from the keys.pkcs11_* settings."""
    settings = Settings(
        data_dir=tmp_path,
        keys=KeySettings(
            provider="pkcs11",
            pkcs11_library=SOFTHSM_MODULE,
            pkcs11_token=token_label,
            pkcs11_pin=SecretStr(PIN),
        ),
    )
    provider = open_key_provider(settings)
    assert isinstance(provider, Pkcs11KeyProvider)
    provider.close()
    with pytest.raises(ValueError, match="pkcs11_pin"):
        KeySettings(provider="pkcs11", pkcs11_library=SOFTHSM_MODULE)


def test_an_engine_on_the_token_destroys_epoch_keys_in_it(
    hsm: Pkcs11KeyProvider, database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    """It collects, reads, destroys and, after the window, destroys the epoch key in the token."""
    engine = Engine(
        database=database.engine,
        policy=parse_policy(demo_policy_text()),
        keys=hsm,
        settings=Settings(data_dir=tmp_path, auth=cheap_auth()),
        clock=clock,
    )
    consent = ConsentEvidence(granted=True, method="web-form")
    doomed = engine.collect(purpose="service", items=PERSON, consent=consent, actor=SYSTEM)
    kept = engine.collect(
        purpose="service",
        items={**PERSON, "email": "kept@example.kr"},
        consent=consent,
        actor=SYSTEM,
    )
    [epoch] = [e.id for e in engine.key_status(actor=SYSTEM).epochs]
    assert hsm.has_epoch(epoch)
    engine.destroy(doomed.collection_id, actor=SYSTEM)
    engine.run_keys(actor=SYSTEM)
    clock.advance(days=31)
    assert engine.run_keys(actor=SYSTEM).destroyed == [epoch]
    assert not hsm.has_epoch(epoch)
    values = engine.use(actor=SYSTEM, subject_id=kept.subject_id, purpose="service")
    assert values["email"] == "kept@example.kr"


def test_the_master_key_rotates_inside_the_token(hsm: Pkcs11KeyProvider, token_label: str) -> None:
    """It makes a new master current, opens the old one's keys until it is destroyed."""
    wrapped = hsm.wrap(b"k" * 32, context=b"rights|r1")
    old, new = hsm.rotate_master()
    assert hsm.masters_held() == [new, old]
    assert hsm.unwrap(wrapped, context=b"rights|r1") == b"k" * 32
    rewrapped = hsm.wrap(b"k" * 32, context=b"rights|r1")
    hsm.destroy_master(old)
    with pytest.raises(UnwrapError):
        hsm.unwrap(wrapped, context=b"rights|r1")
    again = Pkcs11KeyProvider(SOFTHSM_MODULE, token_label=token_label, pin=PIN)
    assert again.key_id == new
    assert again.unwrap(rewrapped, context=b"rights|r1") == b"k" * 32
    again.close()
