# A target the base image compiles for already: the engine's own architecture.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
