"""The local Hadoop cluster (local_services/hadoop_cluster.py) as its users meet it: the
NameNode's web UI with its live DataNode, YARN's web UI, and a ResourceManager that runs nothing for the
anonymous web user. The aggregation on YARN is tested in hadoop/test_run_aggregation.py."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def test_the_namenode_ui_is_served_and_reports_the_live_datanode(hadoop_cluster):
    page = requests.get(f"{hadoop_cluster.namenode_url}/dfshealth.html", timeout=10)
    assert page.status_code == 200
    assert "<title>Namenode information</title>" in page.text
    # The page's scripts (from the same jar) and the bean they render the DataNode tab from.
    assert requests.get(f"{hadoop_cluster.namenode_url}/dfshealth.js", timeout=10).status_code == 200
    info = requests.get(
        f"{hadoop_cluster.namenode_url}/jmx", params={"qry": "Hadoop:service=NameNode,name=NameNodeInfo"}, timeout=10
    ).json()
    live = json.loads(info["beans"][0]["LiveNodes"])
    datanode = f"127.0.0.1:{hadoop_cluster.ports.datanode}"
    assert list(live) == [datanode]
    assert live[datanode]["adminState"] == "In Service"


def test_yarns_web_ui_is_served_from_the_main_jars(hadoop_cluster):
    """Unlike HDFS's pages, YARN's UI is rendered by Java code; its markers and static files
    are in hadoop-yarn-common, a main jar (local_services/HADOOP.md): the ResourceManager's
    application and node lists, their stylesheet, and the NodeManager's own page answer."""
    rm = hadoop_cluster.resourcemanager_url
    apps = requests.get(f"{rm}/cluster/apps", timeout=30)
    assert apps.status_code == 200
    assert "All Applications" in apps.text
    # the one NodeManager, running at its configured web port, listed on the nodes page
    (registered,) = requests.get(f"{rm}/ws/v1/cluster/nodes", timeout=30).json()["nodes"]["node"]
    node_ui = registered["nodeHTTPAddress"]
    assert (registered["state"], node_ui.rsplit(":", 1)[1]) == ("RUNNING", str(hadoop_cluster.ports.nodemanager_http))
    nodes = requests.get(f"{rm}/cluster/nodes", timeout=30)
    assert nodes.status_code == 200
    assert f"'//{node_ui}'" in nodes.text
    assert requests.get(f"{rm}/static/yarn.css", timeout=30).status_code == 200
    node = requests.get(f"http://{node_ui}/node", timeout=30)
    assert node.status_code == 200
    assert "NodeManager information" in node.text


def test_the_resourcemanager_lets_the_anonymous_web_user_submit_nothing(hadoop_cluster, tmp_path):
    """The REST API accepts applications; the queue's ACL lets only the cluster's owner submit,
    so an anonymous request (the classic way into an open YARN) runs no command."""
    witness = tmp_path / f"ran-{uuid.uuid4().hex}"
    base = f"{hadoop_cluster.resourcemanager_url}/ws/v1/cluster/apps"
    app_id = requests.post(f"{base}/new-application", timeout=10).json()["application-id"]
    answer = requests.post(
        base,
        timeout=10,
        json={
            "application-id": app_id,
            "application-name": "anonymous probe",
            "application-type": "YARN",
            "am-container-spec": {"commands": {"command": f"touch {witness}"}},
            "resource": {"memory": 256, "vCores": 1},
        },
    )
    assert answer.status_code in (400, 403)
    assert "does not have permission to submit" in answer.text
    assert requests.get(f"{base}/{app_id}", timeout=10).status_code == 404
    assert not witness.exists()
