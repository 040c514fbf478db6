"""`xcargo.toml`: the `[container]` and `[targets."<triple>".container]` tables, as one typed
configuration.

The file is shared with the rest of xcargo, so keys this server does not use are reported as
warnings instead of failing the build, and keys it accepts but cannot act on yet are reported as
"unsupported" notices that say what happens instead. Everything that is used is checked strictly
and located by file, line and key, because the file may come from an untrusted project.

One job per module: `schema` (the typed configuration and its field checks), `loading`
(reading and validating a file), `diagnostics` (the wording of errors and notices),
`key_lines` (which line defines a key), `notices` (a located remark). A `Cross.toml` loader is
one more loader into the same `XcargoConfig`.
"""

from runtimes.config.loading import (
    CONFIG_FILE_NAME,
    MAX_CONFIG_BYTES,
    load_config,
    load_config_text,
)
from runtimes.config.notices import ConfigNotice
from runtimes.config.schema import (
    CacheConfig,
    ContainerConfig,
    PodmanMachineConfig,
    TargetContainerConfig,
    XcargoConfig,
)

__all__ = [
    "CONFIG_FILE_NAME",
    "MAX_CONFIG_BYTES",
    "CacheConfig",
    "ConfigNotice",
    "ContainerConfig",
    "PodmanMachineConfig",
    "TargetContainerConfig",
    "XcargoConfig",
    "load_config",
    "load_config_text",
]
