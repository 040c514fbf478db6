"""Images: references and trust, the choice of a build's image, the catalogue of toolchain
images, custom images made from a project's Dockerfile, and the review of Dockerfiles.
"""
