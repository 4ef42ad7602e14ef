from delinkcious.server import serve
from delinkcious.settings import load_settings
from social_graph_service.settings import SocialGraphSettings
from social_graph_service.transport import create_app


def main() -> None:
    settings = load_settings(SocialGraphSettings)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
