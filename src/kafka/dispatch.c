/* Request dispatch: reads the request header, finds the API and version, decodes the body with
 * the protocol tables, runs the handler, and frames the response.
 *
 * Request header (v1, v2 for flexible request versions): api_key i16, api_version i16,
 * correlation_id i32, client_id nullable string with an i16 length (even in v2), then in v2 a
 * tag buffer. Response header: correlation_id i32, then a tag buffer (v1) for flexible response
 * versions, except ApiVersions whose response header is always v0.
 *
 * An unknown API key, or a version outside the advertised range, closes the connection, as Kafka
 * does, and is logged as what it is (an unsupported version of an API Herald serves, an API of
 * Kafka's that Herald does not serve, or a key Kafka does not know). ApiVersions at any version
 * Herald does not serve instead gets the v0-format UNSUPPORTED_VERSION answer that lists
 * ApiVersions' own range, as Kafka answers (KIP-511). */
#include "kafka/handler_int.h"
#include "obs/obs.h"
#include "util/addr.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/reader.h"
#include "util/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Records fields at least this large are spliced into the written response, not copied. */
#define KAFKA_SPLICE_MIN 4096

const kafka__handler_t kafka__handlers[] = {
    {KAFKA_API_Produce, kafka__handle_Produce},
    {KAFKA_API_Fetch, kafka__handle_Fetch},
    {KAFKA_API_ListOffsets, kafka__handle_ListOffsets},
    {KAFKA_API_Metadata, kafka__handle_Metadata},
    {KAFKA_API_ApiVersions, kafka__handle_ApiVersions},
    {KAFKA_API_CreateTopics, kafka__handle_CreateTopics},
    {KAFKA_API_DeleteTopics, kafka__handle_DeleteTopics},
    {KAFKA_API_DeleteRecords, kafka__handle_DeleteRecords},
    {KAFKA_API_DescribeCluster, kafka__handle_DescribeCluster},
    {KAFKA_API_InitProducerId, kafka__handle_InitProducerId},
    {KAFKA_API_DescribeConfigs, kafka__handle_DescribeConfigs},
    {KAFKA_API_AlterConfigs, kafka__handle_AlterConfigs},
    {KAFKA_API_IncrementalAlterConfigs, kafka__handle_IncrementalAlterConfigs},
    {KAFKA_API_CreatePartitions, kafka__handle_CreatePartitions},
    {KAFKA_API_FindCoordinator, kafka__handle_FindCoordinator},
    {KAFKA_API_OffsetCommit, kafka__handle_OffsetCommit},
    {KAFKA_API_OffsetFetch, kafka__handle_OffsetFetch},
    {KAFKA_API_JoinGroup, kafka__handle_JoinGroup},
    {KAFKA_API_Heartbeat, kafka__handle_Heartbeat},
    {KAFKA_API_LeaveGroup, kafka__handle_LeaveGroup},
    {KAFKA_API_SyncGroup, kafka__handle_SyncGroup},
    {KAFKA_API_DescribeGroups, kafka__handle_DescribeGroups},
    {KAFKA_API_ListGroups, kafka__handle_ListGroups},
    {KAFKA_API_DeleteGroups, kafka__handle_DeleteGroups},
    {KAFKA_API_OffsetDelete, kafka__handle_OffsetDelete},
    {KAFKA_API_ConsumerGroupHeartbeat, kafka__handle_ConsumerGroupHeartbeat},
    {KAFKA_API_ConsumerGroupDescribe, kafka__handle_ConsumerGroupDescribe},
    {KAFKA_API_ShareGroupHeartbeat, kafka__handle_ShareGroupHeartbeat},
    {KAFKA_API_ShareGroupDescribe, kafka__handle_ShareGroupDescribe},
    {KAFKA_API_ShareFetch, kafka__handle_ShareFetch},
    {KAFKA_API_ShareAcknowledge, kafka__handle_ShareAcknowledge},
};
const int kafka__nhandlers = (int)(sizeof kafka__handlers / sizeof kafka__handlers[0]);

/* Kafka's names of its API keys (AK ApiKeys), for the log line of a request Herald does not
 * serve: an API Kafka has but Herald does not implement is named, a key Kafka does not know is
 * only numbered. */
static const char *const kafka_api_names[] = {
    "Produce",
    "Fetch",
    "ListOffsets",
    "Metadata",
    "LeaderAndIsr",
    "StopReplica",
    "UpdateMetadata",
    "ControlledShutdown",
    "OffsetCommit",
    "OffsetFetch",
    "FindCoordinator",
    "JoinGroup",
    "Heartbeat",
    "LeaveGroup",
    "SyncGroup",
    "DescribeGroups",
    "ListGroups",
    "SaslHandshake",
    "ApiVersions",
    "CreateTopics",
    "DeleteTopics",
    "DeleteRecords",
    "InitProducerId",
    "OffsetForLeaderEpoch",
    "AddPartitionsToTxn",
    "AddOffsetsToTxn",
    "EndTxn",
    "WriteTxnMarkers",
    "TxnOffsetCommit",
    "DescribeAcls",
    "CreateAcls",
    "DeleteAcls",
    "DescribeConfigs",
    "AlterConfigs",
    "AlterReplicaLogDirs",
    "DescribeLogDirs",
    "SaslAuthenticate",
    "CreatePartitions",
    "CreateDelegationToken",
    "RenewDelegationToken",
    "ExpireDelegationToken",
    "DescribeDelegationToken",
    "DeleteGroups",
    "ElectLeaders",
    "IncrementalAlterConfigs",
    "AlterPartitionReassignments",
    "ListPartitionReassignments",
    "OffsetDelete",
    "DescribeClientQuotas",
    "AlterClientQuotas",
    "DescribeUserScramCredentials",
    "AlterUserScramCredentials",
    "Vote",
    "BeginQuorumEpoch",
    "EndQuorumEpoch",
    "DescribeQuorum",
    "AlterPartition",
    "UpdateFeatures",
    "Envelope",
    "FetchSnapshot",
    "DescribeCluster",
    "DescribeProducers",
    "BrokerRegistration",
    "BrokerHeartbeat",
    "UnregisterBroker",
    "DescribeTransactions",
    "ListTransactions",
    "AllocateProducerIds",
    "ConsumerGroupHeartbeat",
    "ConsumerGroupDescribe",
    "ControllerRegistration",
    "GetTelemetrySubscriptions",
    "PushTelemetry",
    "AssignReplicasToDirs",
    "ListConfigResources",
    "DescribeTopicPartitions",
    "ShareGroupHeartbeat",
    "ShareGroupDescribe",
    "ShareFetch",
    "ShareAcknowledge",
    "AddRaftVoter",
    "RemoveRaftVoter",
    "UpdateRaftVoter",
    "InitializeShareGroupState",
    "ReadShareGroupState",
    "WriteShareGroupState",
    "DeleteShareGroupState",
    "ReadShareGroupStateSummary",
    "StreamsGroupHeartbeat",
    "StreamsGroupDescribe",
    "DescribeShareGroupOffsets",
    "AlterShareGroupOffsets",
    "DeleteShareGroupOffsets",
    "StreamsGroupTopologyDescriptionUpdate",
    "UnregisterController",
};

/* Kafka's name of an API key, or NULL. */
static const char *kafka_api_name(int16_t key)
{
    size_t n = sizeof kafka_api_names / sizeof kafka_api_names[0];
    return key >= 0 && (size_t)key < n ? kafka_api_names[key] : NULL;
}

static kafka__handler_fn find_handler(int16_t key)
{
    for (int i = 0; i < kafka__nhandlers; i++)
        if (kafka__handlers[i].key == key)
            return kafka__handlers[i].fn;
    return NULL;
}

void kafka_req_init(kafka_req_t *r)
{
    memset(r, 0, sizeof *r);
    hd_arena_init(&r->arena, 0);
    hd_buf_init(&r->out);
    r->has_response = true;
}

void kafka_req_deinit(kafka_req_t *r)
{
    const kafka__deferred_t *d = r->_state ? *(const kafka__deferred_t **)r->_state : NULL;
    if (d && d->free)
        d->free(r);
    r->_state = NULL;
    kafka__produce_plan_free(r);
    hd_arena_deinit(&r->arena);
    hd_buf_deinit(&r->out);
    free(r->splices.v);
    r->splices.v = NULL;
}

void kafka_req_abort(kafka_req_t *r)
{
    const kafka__deferred_t *d = r->_state ? *(const kafka__deferred_t **)r->_state : NULL;
    if (d && d->abort)
        d->abort(r);
}

void kafka_req_timeout(kafka_req_t *r)
{
    const kafka__deferred_t *d = r->_state ? *(const kafka__deferred_t **)r->_state : NULL;
    if (d && d->timeout)
        d->timeout(r);
}

void *kafka__alloc(kafka_req_t *r, size_t n)
{
    void *p = hd_arena_alloc(&r->arena, n);
    HD_ASSERT(p); /* the arena has no limit while responses are built */
    return p;
}

char *kafka__strdup(kafka_req_t *r, const char *s)
{
    return hd_arena_strndup(&r->arena, s, strlen(s));
}

void kafka__advertised(const hd_config_t *cfg, char *host, size_t hostlen, int32_t *port)
{
    char h[256];
    int p = 9092;
    const char *addr = cfg->advertised_addr[0] ? cfg->advertised_addr : cfg->kafka_addr;
    if (hd_parse_hostport(addr, h, &p) < 0)
        snprintf(h, sizeof h, "127.0.0.1");
    if (!strcmp(h, "0.0.0.0") || !strcmp(h, "::")) {
        if (gethostname(h, sizeof h) < 0)
            snprintf(h, sizeof h, "localhost");
        h[sizeof h - 1] = '\0';
    }
    snprintf(host, hostlen, "%s", h);
    *port = p;
}

/* Frames the response struct: size, header, body. */
static void encode_response(kafka_req_t *r)
{
    hd_buf_reset(&r->out);
    r->splices.n = 0;
    r->splices.total = 0;
    int rc;
    if (r->api_key == KAFKA_API_Fetch)
        /* Record batches go out from the read buffer instead of being copied once more. */
        rc = kafka_response_encode_spliced(r->_api, r->api_version, r->correlation_id, r->_resp,
                                           &r->out, KAFKA_SPLICE_MIN, &r->splices);
    else
        rc = kafka_response_encode(r->_api, r->api_version, r->correlation_id, r->_resp, &r->out);
    HD_ASSERT(rc == 0); /* handlers only build encodable responses */
}

/* Reports a handled request to the metrics (known APIs only). */
static void observe(kafka_req_t *r)
{
    const kafka_api_t *api = r->_api;
    if (api)
        obs_kafka_request(r->api_key, api->name, hd_mono_ns() - r->_t0_ns);
}

void kafka__finish(kafka_req_t *r)
{
    if (r->has_response)
        encode_response(r);
    r->done = true;
    observe(r);
    /* Finishing inside kafka_req_handle() (a waiter already satisfied) is reported by its
     * return value instead, so the connection is never re-entered. */
    if (!r->_in_handle && r->on_done)
        r->on_done(r);
}

int kafka_req_handle(kafka_req_t *r, uint8_t *body, size_t len)
{
    int rc = kafka_req_start(r, body, len);
    if (rc == KAFKA_REQ_PREPARE) {
        while (kafka_req_prepare_next(r))
            ;
        rc = KAFKA_REQ_READY;
    }
    return rc == KAFKA_REQ_READY ? kafka_req_run(r) : rc;
}

bool kafka_req_prepare_next(kafka_req_t *r) { return kafka__produce_prepare_next(r); }

bool kafka_req_prepare_claimed(const kafka_req_t *r) { return kafka__produce_claimed(r); }

int kafka_req_start(kafka_req_t *r, uint8_t *body, size_t len)
{
    r->_t0_ns = hd_mono_ns();
    hd_reader_t rd = hd_reader_init(hd_slice(body, len));
    kafka_request_header_t h;
    int rc = kafka_request_header_decode(&rd, &h);
    r->api_key = h.api_key;
    r->api_version = h.api_version;
    r->correlation_id = h.correlation_id;
    if (rc == HD_EUNSUPPORTED && h.api && h.api_key == KAFKA_API_ApiVersions) {
        /* Any version Herald does not serve, older or newer (KIP-511; Kafka answers a negative
         * version the same way). The body is not parsed: its layout is unknown. */
        say_debug("conn %s: ApiVersions version %d is not supported (%d-%d); answering "
                  "UNSUPPORTED_VERSION",
                  r->peer, h.api_version, h.api->min_version, h.api->max_version);
        kafka_apiversions_fallback_encode(h.correlation_id, &r->out);
        return KAFKA_REQ_DONE;
    }
    kafka__handler_fn fn = rc == 0 ? find_handler(h.api_key) : NULL;
    if (rc < 0 || !fn) {
        r->has_response = false;
        if (rc == HD_EMALFORMED) {
            say_warn("conn %s: malformed request header; closing", r->peer);
        } else if (h.api) {
            /* A key Herald serves, at a version outside its range: Kafka closes the
             * connection too (only ApiVersions has an error answer for this). */
            say_warn("conn %s: unsupported version %d of %s (key %d; Herald serves %d-%d); "
                     "closing",
                     r->peer, h.api_version, h.api->name, h.api_key, h.api->min_version,
                     h.api->max_version);
        } else if (kafka_api_name(h.api_key)) {
            say_warn("conn %s: unsupported API %s (key %d, version %d): Herald does not serve "
                     "it; closing",
                     r->peer, kafka_api_name(h.api_key), h.api_key, h.api_version);
        } else {
            say_warn("conn %s: unknown API key %d (version %d); closing", r->peer, h.api_key,
                     h.api_version);
        }
        return KAFKA_REQ_CLOSE;
    }
    const kafka_api_t *api = h.api;
    r->_api = api;
    r->client_id = h.client_id.is_null ? ""
                                       : hd_arena_strndup(&r->arena, (const char *)h.client_id.v.p,
                                                          h.client_id.v.len);
    if (!r->client_id)
        r->client_id = "";
    /* Decoded structures may take several times the frame's size; bound them. */
    hd_arena_t *a = &r->arena;
    a->_limit = 4 * len + 65536;
    void *req = hd_arena_alloc(a, api->req_size);
    rc = req ? kafka_request_decode(api, r->api_version, &rd, req, a) : HD_ETOOBIG;
    a->_limit = 0;
    if (rc < 0) {
        if (r->api_key == KAFKA_API_ApiVersions) {
            /* Kafka answers INVALID_REQUEST for an undecodable ApiVersions; librdkafka then
             * retries with v0. Any other API gets the connection closed. */
            r->_resp = kafka__alloc(r, api->resp_size);
            kafka_defaults(api->resp, r->_resp);
            ((kafka_ApiVersionsResponse_t *)r->_resp)->ErrorCode = KAFKA_ERR_INVALID_REQUEST;
            encode_response(r);
            return KAFKA_REQ_DONE;
        }
        say_warn("conn %s: malformed %s v%d request (%s); closing", r->peer, api->name,
                 r->api_version, hd_strerror(rc));
        r->has_response = false;
        return KAFKA_REQ_CLOSE;
    }
    r->_resp = kafka__alloc(r, api->resp_size);
    kafka_defaults(api->resp, r->_resp);
    r->_req = req;
    r->_fn = fn;
    if (r->api_key == KAFKA_API_Produce) {
        r->prep_parts = kafka__produce_plan(r, req, r->max_parts > 1 ? r->max_parts : 1);
        if (r->prep_parts > 0)
            return KAFKA_REQ_PREPARE;
    }
    return KAFKA_REQ_READY;
}

int kafka_req_run(kafka_req_t *r)
{
    r->_in_handle = true;
    int res = r->_fn(r, r->_req, r->_resp);
    r->_in_handle = false;
    if (res == KAFKA_REQ_PENDING && r->done)
        return KAFKA_REQ_DONE;
    if (res == KAFKA_REQ_DONE && r->has_response)
        encode_response(r);
    if (res == KAFKA_REQ_DONE)
        observe(r);
    return res;
}
