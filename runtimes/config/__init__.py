"""The project's configuration, as one typed `XcargoConfig`: `xcargo.toml`'s `[container]` and
`[targets."<triple>".container]` tables, over cross-rs's configuration (Cross.toml or the file
CROSS_CONFIG names, Cargo.toml's `metadata.cross`, the CROSS_* variables), so that a cross user
brings theirs unchanged.

The files are shared with other tools, so keys this server does not use are reported as
warnings instead of failing the build, and keys it accepts but cannot act on are reported as
"unsupported" notices that say what happens instead. Everything that is used is checked strictly
and located by file, line and key, because the files may come from an untrusted project.

One job per module: `schema` (the typed configuration and its field checks), `loading`
(reading xcargo.toml, and the entry point `load_config`), `cross_sources` (where cross's
settings come from) and `cross` (them translated into xcargo.toml's shape, checked, merged),
`files` (reading a file safely), `diagnostics` (the wording of errors and notices),
`key_lines` (which line defines a key), `notices` (a located remark).
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
