"""`migbench image`: the container images `--limiter docker|podman` runs children in.

`image build` imports the base image (a debootstrapped Debian root, built
once under the cache) and builds one image per (Python, Django) environment,
offline: no registry is needed. `image list` shows migbench's images in the
engine's store, `image remove` untags them. The limiter builds what it needs
on first use; this command does it ahead of time (a first build takes about
20 s per environment, the base a few seconds once the root exists).

Side effects: build debootstraps the root (first time), builds environments
(--django) and images; remove untags images in the engine's store.
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("image", help="build, list or remove the container images of the "
                                                 "docker and podman limiters")
    verbs = parser.add_subparsers(metavar="VERB")
    build = verbs.add_parser("build", help="build the base image and, with --django, the environments' images")
    _runtime_option(build)
    build.add_argument("--django", metavar="LINES",
                       help="comma-separated Django lines whose environments get an image, e.g. 1.8,4.2")
    build.add_argument("--python", help="interpreter of those environments (version or path)")
    build.set_defaults(verb=handle_build)
    listing = verbs.add_parser("list", help="list migbench's images in the engine's store")
    _runtime_option(listing)
    listing.set_defaults(verb=handle_list)
    remove = verbs.add_parser("remove", help="untag migbench's images (layers other images use stay)")
    _runtime_option(remove)
    remove.add_argument("keys", nargs="*", metavar="KEY",
                        help="environment keys (py3.11.7-django4.2.30; `migbench image list` shows them)")
    remove.add_argument("--all", action="store_true", help="every migbench image, the base images included")
    remove.set_defaults(verb=handle_remove)
    parser.set_defaults(handler=handle, verb=None, usage=parser.format_help)


def _runtime_option(parser) -> None:
    parser.add_argument("--runtime", choices=("docker", "podman"), default="docker",
                        help="the container engine (default: docker)")


def handle(args) -> int:
    """Run the VERB given; without one, print the usage (exit status 2)."""
    if args.verb is None:
        print(args.usage(), end="")
        return 2
    return args.verb(args)


def _runtime(args):
    from migbench.bench.guests import runtime

    engine = runtime.get(args.runtime)
    engine.require()
    return engine


def handle_build(args) -> int:
    from migbench.bench.env import environments
    from migbench.bench.guests import images

    from .envs import create_lines

    engine = _runtime(args)
    lines = create_lines(args.django) if args.django else []
    print("base    %s" % images.ensure_base(engine))
    for line in lines:
        env = environments.ensure(line, args.python)
        image = images.ensure_image(engine, env.path)
        how = "built in %.0f s" % image.build_seconds if image.built_now else "cached"
        print("ready   %s (%s, %s)" % (image.tag, image.source, how))
    return 0


def handle_list(args) -> int:
    from migbench.bench.guests import images
    from migbench.units import mib

    found = images.list_images(_runtime(args))
    if not found:
        print("no migbench images in %s's store yet; build them with `migbench image build --runtime %s "
              "--django 4.2`" % (args.runtime, args.runtime))
    for image in found:
        print("%-52s %-26s %-10s %s" % (image["tag"], image["key"], image["source"], mib(image["size"])))
    return 0


def handle_remove(args) -> int:
    from migbench.bench.guests import images
    from migbench.errors import MigbenchError

    if not args.all and not args.keys:
        raise MigbenchError("image remove: name environment keys (`migbench image list`) or give --all")
    engine = _runtime(args)
    removed = []
    for key in ([None] if args.all else args.keys):
        removed += images.remove_images(engine, key)
    if not removed:
        print("no migbench images matched")
    refused = 0
    for tag, refusal in removed:
        print("removed %s" % tag if refusal is None else "kept    %s: %s" % (tag, refusal))
        refused += refusal is not None
    return 1 if refused else 0
