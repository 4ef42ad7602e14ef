from delinkcious.server import serve
from delinkcious.settings import load_settings
from link_service.settings import LinkSettings
from link_service.transport import create_app


def main() -> None:
    settings = load_settings(LinkSettings)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
