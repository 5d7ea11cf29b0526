/*
 * `GET /` and `HEAD /` for the local Elasticsearch.
 *
 * The integ-test-zip distribution that local_services runs leaves out the `rest-root`
 * module, so the root endpoint answers 405 there while every real distribution answers
 * with the node's name and version (the Python client's info() and ping() call it).
 * This plugin restores that answer. It runs as the same transport action name as the
 * real one, cluster:monitor/main, so the security layer authorizes it the same way.
 * Compiled against the distribution's own jars when `local_services up` installs it.
 */
package local.pipeline.esroot;

import java.io.IOException;
import java.util.Collection;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

import org.elasticsearch.Build;
import org.elasticsearch.action.ActionListener;
import org.elasticsearch.action.ActionRequest;
import org.elasticsearch.action.ActionRequestValidationException;
import org.elasticsearch.action.ActionResponse;
import org.elasticsearch.action.ActionType;
import org.elasticsearch.action.support.ActionFilters;
import org.elasticsearch.action.support.TransportAction;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.ClusterState;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.metadata.Metadata;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.io.stream.StreamOutput;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.common.util.concurrent.EsExecutors;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.index.IndexVersion;
import org.elasticsearch.injection.guice.Inject;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.rest.action.RestBuilderListener;
import org.elasticsearch.tasks.Task;
import org.elasticsearch.transport.TransportService;
import org.elasticsearch.xcontent.ToXContent;
import org.elasticsearch.xcontent.ToXContentObject;
import org.elasticsearch.xcontent.XContentBuilder;

public class RootEndpointPlugin extends Plugin implements ActionPlugin {

    public static final ActionType<NodeInfoResponse> ACTION = new ActionType<>("cluster:monitor/main");

    @Override
    public Collection<RestHandler> getRestHandlers(Settings settings, NamedWriteableRegistry registry,
            RestController controller, ClusterSettings clusterSettings, IndexScopedSettings indexSettings,
            SettingsFilter filter, IndexNameExpressionResolver resolver, Supplier<DiscoveryNodes> nodes,
            Predicate<NodeFeature> supportsFeature) {
        return List.of(new RootHandler());
    }

    @Override
    public Collection<ActionHandler<? extends ActionRequest, ? extends ActionResponse>> getActions() {
        return List.of(new ActionHandler<>(ACTION, NodeInfoAction.class));
    }

    public static class NodeInfoRequest extends ActionRequest {
        @Override
        public ActionRequestValidationException validate() {
            return null;
        }
    }

    public static class NodeInfoResponse extends ActionResponse implements ToXContentObject {
        private final String nodeName;
        private final String clusterName;
        private final String clusterUuid;

        NodeInfoResponse(String nodeName, String clusterName, String clusterUuid) {
            this.nodeName = nodeName;
            this.clusterName = clusterName;
            this.clusterUuid = clusterUuid;
        }

        @Override
        public void writeTo(StreamOutput out) throws IOException {
            out.writeString(nodeName);
            out.writeString(clusterName);
            out.writeString(clusterUuid);
        }

        @Override
        public XContentBuilder toXContent(XContentBuilder builder, ToXContent.Params params) throws IOException {
            Build build = Build.current();
            builder.startObject();
            builder.field("name", nodeName);
            builder.field("cluster_name", clusterName);
            builder.field("cluster_uuid", clusterUuid);
            builder.startObject("version")
                .field("number", build.qualifiedVersion())
                .field("build_flavor", build.flavor())
                .field("build_type", build.type().displayName())
                .field("build_hash", build.hash())
                .field("build_date", build.date())
                .field("build_snapshot", build.isSnapshot())
                .field("lucene_version", IndexVersion.current().luceneVersion().toString())
                .field("minimum_wire_compatibility_version", build.minWireCompatVersion())
                .field("minimum_index_compatibility_version", build.minIndexCompatVersion())
                .endObject();
            builder.field("tagline", "You Know, for Search");
            return builder.endObject();
        }
    }

    public static class NodeInfoAction extends TransportAction<NodeInfoRequest, NodeInfoResponse> {
        private final String nodeName;
        private final ClusterService clusterService;

        @Inject
        public NodeInfoAction(Settings settings, TransportService transportService, ActionFilters filters,
                ClusterService clusterService) {
            super(ACTION.name(), filters, transportService.getTaskManager(), EsExecutors.DIRECT_EXECUTOR_SERVICE);
            this.nodeName = Node.NODE_NAME_SETTING.get(settings);
            this.clusterService = clusterService;
        }

        @Override
        protected void doExecute(Task task, NodeInfoRequest request, ActionListener<NodeInfoResponse> listener) {
            ClusterState state = clusterService.state();
            Metadata metadata = state.metadata();
            String uuid = metadata.clusterUUIDCommitted() ? metadata.clusterUUID() : Metadata.UNKNOWN_CLUSTER_UUID;
            listener.onResponse(new NodeInfoResponse(nodeName, state.getClusterName().value(), uuid));
        }
    }

    static class RootHandler extends BaseRestHandler {
        @Override
        public String getName() {
            return "local_root_action";
        }

        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            return channel -> client.execute(ACTION, new NodeInfoRequest(), new RestBuilderListener<NodeInfoResponse>(channel) {
                @Override
                public RestResponse buildResponse(NodeInfoResponse response, XContentBuilder builder) throws IOException {
                    if (request.hasParam("pretty") == false) {
                        builder.prettyPrint().lfAtEnd();
                    }
                    response.toXContent(builder, request);
                    return new RestResponse(RestStatus.OK, builder);
                }
            });
        }

        @Override
        public boolean canTripCircuitBreaker() {
            return false;
        }
    }
}
