"""Apply and destroy examples/minimal against moto's server on loopback.

Mocks prove the module's intent; this proves the configuration is internally
consistent when a real provider talks to an AWS-shaped API: resources reference
each other correctly, the instances get the profile, security groups and user data
the module means, and `terraform destroy` leaves nothing behind.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.helpers.terraform import TerraformWorkspace, moto_override, moto_server

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("terraform")]

REGION = "us-east-1"
RUN_ID = "moto-1"
#: the name the Packer template gives its images; the example looks it up
AMI_NAME = "surge-0.1.0-test"
FLEET_TAG = {"Name": "tag:surge:run-id", "Values": [RUN_ID]}


def aws_client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def register_surge_ami(endpoint: str) -> str:
    """An AMI named like Packer's, so the example's name lookup has something to find."""
    ec2 = aws_client("ec2", endpoint)
    base = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    builder = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1)["Instances"][0]
    image = ec2.create_image(InstanceId=builder["InstanceId"], Name=AMI_NAME)["ImageId"]
    ec2.terminate_instances(InstanceIds=[builder["InstanceId"]])
    return str(image)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def fleet_instances(ec2: Any) -> dict[str, list[dict[str, Any]]]:
    """Running/pending fleet instances by surge:role tag."""
    by_role: dict[str, list[dict[str, Any]]] = {"master": [], "worker": []}
    pages = ec2.describe_instances(
        Filters=[FLEET_TAG, {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )
    for reservation in pages["Reservations"]:
        for instance in reservation["Instances"]:
            tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
            by_role[tags["surge:role"]].append(instance)
    return by_role


def user_data(ec2: Any, instance_id: str) -> str:
    attr = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    return base64.b64decode(attr["UserData"]["Value"]).decode()


def assert_instances(ec2: Any, outputs: dict[str, Any], ami: str) -> None:
    fleet = fleet_instances(ec2)
    assert len(fleet["master"]) == 1 and len(fleet["worker"]) == 2
    master = fleet["master"][0]
    assert master["InstanceId"] == outputs["master_instance_id"]
    assert sorted(w["InstanceId"] for w in fleet["worker"]) == sorted(
        outputs["worker_instance_ids"]
    )
    for instance in [master, *fleet["worker"]]:
        assert instance["ImageId"] == ami
        assert instance["MetadataOptions"]["HttpTokens"] == "required"
        assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
        role = "master" if instance is master else "worker"
        assert instance["IamInstanceProfile"]["Arn"].endswith(f"/surge-{RUN_ID}-{role}")
    volumes = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": outputs["worker_instance_ids"]}]
    )["Volumes"]
    assert volumes and all(volume["Encrypted"] for volume in volumes)

    master_ip = master["PrivateIpAddress"]
    assert outputs["master_private_ip"] == master_ip
    for worker in fleet["worker"]:
        text = user_data(ec2, worker["InstanceId"])
        assert "SURGE_ROLE=worker\n" in text
        assert f"SURGE_MASTER_HOST={master_ip}\n" in text
        assert f"SURGE_BUCKET={outputs['bucket']}\n" in text
        assert text.rstrip().endswith("exec /usr/local/sbin/surge-boot")


def security_group(ec2: Any, name: str) -> dict[str, Any]:
    (group,) = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])[
        "SecurityGroups"
    ]
    return dict(group)


def instance_group_ids(instance: dict[str, Any]) -> set[str]:
    """Security groups of an instance (moto lists them on its network interfaces)."""
    groups = list(instance.get("SecurityGroups", []))
    groups += [g for eni in instance.get("NetworkInterfaces", []) for g in eni.get("Groups", [])]
    return {g["GroupId"] for g in groups}


def assert_user_data_is_clean_shell(text: str, tmp: Path) -> None:
    """The rendered user data passes shellcheck (the template itself has ${...} holes)."""
    if shutil.which("shellcheck") is None:
        warnings.warn("shellcheck missing: rendered user data NOT checked", stacklevel=2)
        return
    script = tmp / "user-data.sh"
    script.write_text(text)
    proc = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


def assert_security_groups(ec2: Any) -> None:
    fleet = fleet_instances(ec2)
    master_sg = security_group(ec2, f"surge-{RUN_ID}-master")
    worker_sg = security_group(ec2, f"surge-{RUN_ID}-worker")
    assert instance_group_ids(fleet["master"][0]) == {master_sg["GroupId"]}
    for worker in fleet["worker"]:
        assert instance_group_ids(worker) == {worker_sg["GroupId"]}

    (ingress,) = master_sg["IpPermissions"]
    assert (ingress["FromPort"], ingress["ToPort"]) == (5557, 5557)
    assert ingress["IpRanges"] == [] and ingress.get("Ipv6Ranges", []) == []
    assert [pair["GroupId"] for pair in ingress["UserIdGroupPairs"]] == [worker_sg["GroupId"]]
    assert worker_sg["IpPermissions"] == [], "workers must accept no inbound traffic"


def assert_bucket_and_iam(endpoint: str, outputs: dict[str, Any]) -> None:
    s3 = aws_client("s3", endpoint)
    bucket = outputs["bucket"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    iam = aws_client("iam", endpoint)
    document = iam.get_role_policy(RoleName=f"surge-{RUN_ID}-worker", PolicyName="surge-worker-s3")
    statements = document["PolicyDocument"]["Statement"]
    resources = {r for s in statements for r in s["Resource"]}
    arn = f"arn:aws:s3:::{bucket}"
    readable = {r for s in statements if "s3:GetObject" in s["Action"] for r in s["Resource"]}
    assert readable == {f"{arn}/schedules/*", f"{arn}/runs/{RUN_ID}/control/stop"}
    assert resources == {
        f"{arn}/schedules/*",
        f"{arn}/runs/{RUN_ID}/control/stop",
        f"{arn}/runs/{RUN_ID}/*",
        arn,
    }
    attached = iam.list_attached_role_policies(RoleName=f"surge-{RUN_ID}-worker")
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == [
        "AmazonSSMManagedInstanceCore"
    ]


def assert_nothing_left(endpoint: str, bucket: str) -> None:
    ec2 = aws_client("ec2", endpoint)
    assert fleet_instances(ec2) == {"master": [], "worker": []}
    names = [b["Name"] for b in aws_client("s3", endpoint).list_buckets()["Buckets"]]
    assert bucket not in names
    roles = [r["RoleName"] for r in aws_client("iam", endpoint).list_roles()["Roles"]]
    assert not [r for r in roles if r.startswith(f"surge-{RUN_ID}")]
    groups = ec2.describe_security_groups()["SecurityGroups"]
    assert not [g for g in groups if g["GroupName"].startswith(f"surge-{RUN_ID}")]


def test_minimal_example_applies_and_destroys(
    tf_workspace: TerraformWorkspace, moto_endpoint: str, tmp_path: Path
) -> None:
    ami = register_surge_ami(moto_endpoint)
    example: Path = tf_workspace.root / "examples" / "minimal"
    (example / "moto_override.tf").write_text(moto_override(moto_endpoint, REGION))
    tf_workspace.init(example)
    variables = ["-var", f"run_id={RUN_ID}"]

    tf_workspace.run(example, "apply", "-auto-approve", *variables)
    outputs = json.loads(tf_workspace.run(example, "output", "-json").stdout)["fleet"]["value"]
    ec2 = aws_client("ec2", moto_endpoint)
    assert_instances(ec2, outputs, ami)
    assert_user_data_is_clean_shell(user_data(ec2, outputs["worker_instance_ids"][0]), tmp_path)
    assert_security_groups(ec2)
    assert_bucket_and_iam(moto_endpoint, outputs)
    assert outputs["fetch_command"] == (
        f"surge fetch s3://{outputs['bucket']}/runs/{RUN_ID} runs/{RUN_ID}"
    )

    tf_workspace.run(example, "destroy", "-auto-approve", "-refresh=false", *variables)
    assert_nothing_left(moto_endpoint, outputs["bucket"])
