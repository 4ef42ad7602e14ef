from delinkcious.server import main
from social_graph_service.settings import SocialGraphSettings
from social_graph_service.transport import create_app, migrate

if __name__ == "__main__":
    main(SocialGraphSettings, create_app, migrate)
