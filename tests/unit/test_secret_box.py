import pytest

from switchboard.adapters.security.secret_box import FernetSecretBox

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
