import pytest

from switchboard.adapters.security.secret_box import FernetSecretBox
from switchboard.core.integrations.model import mask_secret, merge_config, preview

OLD, NEW = FernetSecretBox.generate_key(), FernetSecretBox.generate_key()


def test_a_sealed_secret_opens_to_what_was_sealed_and_reads_as_nothing_like_it():
    box = FernetSecretBox([NEW])
    sealed = box.seal(b"sk_live_abcdef123456")
    assert b"sk_live" not in sealed
    assert box.open(sealed) == b"sk_live_abcdef123456"


def test_keys_rotate_by_putting_the_new_key_first():
    sealed_with_old = FernetSecretBox([OLD]).seal(b"secret")
    rotated = FernetSecretBox([NEW, OLD])

    assert rotated.open(sealed_with_old) == b"secret"
    resealed = rotated.reseal(sealed_with_old)
    assert FernetSecretBox([NEW]).open(resealed) == b"secret"
    with pytest.raises(ValueError, match="none of the configured keys"):
        FernetSecretBox([OLD]).open(rotated.seal(b"secret"))


def test_a_tampered_seal_is_refused():
    box = FernetSecretBox([NEW])
    sealed = bytearray(box.seal(b"secret"))
    sealed[-5] ^= 0x01
    with pytest.raises(ValueError, match="tampered"):
        box.open(bytes(sealed))


def test_a_box_needs_a_key():
    with pytest.raises(ValueError, match="at least one"):
        FernetSecretBox([])


def test_secrets_show_only_their_last_four_characters_and_short_ones_nothing():
    assert mask_secret("sk_live_abcdef123456") == "••••3456"
    assert mask_secret("short") == "••••"


def test_a_preview_masks_the_secret_fields_only():
    config = {"label": "Main account", "api_key": "sk_live_abcdef123456", "webhook_secret": None}
    assert preview(config, ("api_key", "webhook_secret")) == {
        "label": "Main account",
        "api_key": "••••3456",
        "webhook_secret": None,
    }


def test_a_partial_update_keeps_the_fields_not_sent():
    assert merge_config({"label": "a", "api_key": "k"}, {"label": "b"}) == {"label": "b", "api_key": "k"}
