"""@tag'ed tasks, a custom command-line option and event listeners in the scenario file."""

from locust import HttpUser, events, tag, task

STARTED = []


@events.init_command_line_parser.add_listener
def add_options(parser):
    parser.add_argument("--product-id", default="0", help="which product to read")


@events.init.add_listener
def on_init(environment, **_kwargs):
    STARTED.append(environment)


class TaggedUser(HttpUser):
    @tag("browse")
    @task(2)
    def product(self):
        product_id = self.environment.parsed_options.product_id
        self.client.get(f"/api/products/{product_id}", name=f"product {product_id}")

    @tag("browse", "cheap")
    @task(1)
    def home(self):
        assert STARTED, "the file's init listener did not run"
        self.client.get("/api/home", name="home")

    @tag("broken")
    @task(5)
    def broken(self):
        self.client.get("/status/500", name="broken")
