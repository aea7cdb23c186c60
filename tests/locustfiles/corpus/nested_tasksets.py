"""Nested TaskSets as in Locust's docs (forum -> thread), interrupt() back to the parent."""

from locust import FastHttpUser, TaskSet, constant, task


class Forum(TaskSet):
    @task(3)
    def list_threads(self):
        self.client.get("/api/forum", name="forum")

    @task(1)
    class Thread(TaskSet):
        @task(4)
        def read(self):
            self.client.get("/api/forum/thread/1", name="thread")

        @task(1)
        def back(self):
            self.interrupt()

    @task(1)
    def leave(self):
        self.interrupt()


class ForumUser(FastHttpUser):
    wait_time = constant(1)
    tasks = {Forum: 2}

    @task(1)
    def home(self):
        self.client.get("/api/home", name="home")
