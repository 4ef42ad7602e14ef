from delinkcious.server import main
from delinkcious.tracing import configure_tracing
from social_graph_service.settings import SocialGraphSettings
from social_graph_service.transport import create_app, migrate

if __name__ == "__main__":
    configure_tracing(SocialGraphSettings.service_name)
    main(SocialGraphSettings, create_app, migrate)
