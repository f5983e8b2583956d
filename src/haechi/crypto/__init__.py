"""Keys and ciphers: key providers, envelope sealing, blind indexes."""

from haechi.crypto.blind_index import BlindIndex
from haechi.crypto.envelope import Sealer, TamperedCiphertext, item_context
from haechi.crypto.keys import (
    KeyProvider,
    LocalKeyProvider,
    UnwrapError,
    create_master_key_file,
    new_data_key,
)

__all__ = [
    "BlindIndex",
    "KeyProvider",
    "LocalKeyProvider",
    "Sealer",
    "TamperedCiphertext",
    "UnwrapError",
    "create_master_key_file",
    "item_context",
    "new_data_key",
]
