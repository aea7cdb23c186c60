"""HttpUser: a token from on_start in the session headers, catch_response checks."""

from locust import HttpUser, between, task


class ApiUser(HttpUser):
    wait_time = between(0.5, 1)

    def on_start(self):
        token = self.client.post("/api/login", json={"user": "bob"}).json()["token"]
        self.client.headers.update({"Authorization": f"Bearer {token}", "X-Client": "corpus"})

    @task(2)
    def orders(self):
        with self.client.get("/api/secure/orders", catch_response=True) as response:
            if response.status_code != 200 or not response.json()["ok"]:
                response.failure(f"unexpected answer {response.status_code}")
            elif "sid=s1" not in response.json()["cookie"]:
                response.failure("the login cookie was not sent back")
            else:
                response.success()

    @task(1)
    def missing_is_fine(self):
        with self.client.get("/status/404", name="optional", catch_response=True) as response:
            if response.status_code == 404:
                response.success()
