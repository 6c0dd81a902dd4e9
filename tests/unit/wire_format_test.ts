/**
 * Checks that the generated wire code (src/generated/) produces the exact bytes Deephaven expects:
 * protobuf field numbers and zig-zag types, Flight's field 1000, and Barrage flatbuffers that read back.
 *
 * @module
 */
import assert from "node:assert/strict";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import * as flatbuffers from "flatbuffers";

import {
  BatchTableRequest_OperationSchema,
  BatchTableRequestSchema,
  EmptyTableRequestSchema,
  ExportedTableCreationResponseSchema,
  FetchTableRequestSchema,
  SortDescriptor_SortDirection,
  SortDescriptorSchema,
  TableReferenceSchema,
  TableService,
  TimeTableRequestSchema,
} from "../../src/generated/proto/deephaven_core/proto/table_pb.ts";
import { TicketSchema } from "../../src/generated/proto/deephaven_core/proto/ticket_pb.ts";
import {
  HandshakeRequestSchema,
  SessionService,
} from "../../src/generated/proto/deephaven_core/proto/session_pb.ts";
import { ConfigValueSchema } from "../../src/generated/proto/deephaven_core/proto/config_pb.ts";
import { ConsoleService } from "../../src/generated/proto/deephaven_core/proto/console_pb.ts";
import {
  FlightDataSchema,
  FlightService,
} from "../../src/generated/proto/arrow/flight/protocol/flight_pb.ts";
import {
  BarrageMessageType,
  BarrageMessageWrapper,
  BarrageSubscriptionOptions,
  BarrageSubscriptionRequest,
  BarrageUpdateMetadata,
} from "../../src/generated/barrage/barrage_generated.ts";

/** The `op` oneof of a batch operation, as accepted by `create`. */
type BatchOp = NonNullable<MessageInitShape<typeof BatchTableRequest_OperationSchema>["op"]>;

/** Export ticket bytes: 'e' followed by the id as int32 little-endian. */
function exportTicket(id: number): Uint8Array {
  const bytes = new Uint8Array(5);
  bytes[0] = 0x65;
  new DataView(bytes.buffer).setInt32(1, id, true);
  return bytes;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

Deno.test("EmptyTableRequest encodes size as zig-zag sint64 in field 2", () => {
  const bytes = toBinary(EmptyTableRequestSchema, create(EmptyTableRequestSchema, { size: 5n }));
  assert.equal(hex(bytes), "10 0a"); // tag (2 << 3 | varint) = 0x10, zig-zag(5) = 10

  const withTicket = toBinary(
    EmptyTableRequestSchema,
    create(EmptyTableRequestSchema, { resultId: { ticket: exportTicket(1) }, size: -1n }),
  );
  // result_id = 1 (Ticket{ticket = 1: 65 01 00 00 00}), then size = 2 with zig-zag(-1) = 1.
  assert.equal(hex(withTicket), "0a 07 0a 05 65 01 00 00 00 10 01");

  const decoded = fromBinary(EmptyTableRequestSchema, withTicket);
  assert.equal(decoded.size, -1n);
  assert.equal(typeof decoded.size, "bigint");
  assert.deepEqual(decoded.resultId?.ticket, exportTicket(1));
});

Deno.test("FetchTableRequest has source_id = 1 and result_id = 2 (reversed order)", () => {
  const message = create(FetchTableRequestSchema, {
    sourceId: { ref: { case: "ticket", value: { ticket: new TextEncoder().encode("s/t") } } },
    resultId: { ticket: exportTicket(2) },
  });
  const bytes = toBinary(FetchTableRequestSchema, message);
  // 0a 07 = field 1 (TableReference, 7 bytes) holding 0a 05 = ref.ticket (Ticket, 5 bytes) holding 0a 03 "s/t";
  // 12 07 = field 2 (Ticket, 7 bytes) holding 0a 05 + export ticket e(2).
  assert.equal(hex(bytes), "0a 07 0a 05 0a 03 73 2f 74 12 07 0a 05 65 02 00 00 00");
});

Deno.test("TableReference.batch_offset and HandshakeRequest.auth_protocol are zig-zag sint32", () => {
  const ref = toBinary(
    TableReferenceSchema,
    create(TableReferenceSchema, { ref: { case: "batchOffset", value: 3 } }),
  );
  assert.equal(hex(ref), "10 06");
  const handshake = toBinary(HandshakeRequestSchema, create(HandshakeRequestSchema, { authProtocol: -1 }));
  assert.equal(hex(handshake), "08 01");
});

Deno.test("TimeTableRequest oneof members use Deephaven's numbers", () => {
  const bytes = toBinary(
    TimeTableRequestSchema,
    create(TimeTableRequestSchema, {
      startTime: { case: "startTimeNanos", value: -2n },
      period: { case: "periodString", value: "PT1s" },
      blinkTable: true,
    }),
  );
  // start_time_nanos = 2 (zig-zag(-2) = 3), blink_table = 4, period_string = 6.
  assert.equal(hex(bytes), "10 03 20 01 32 04 50 54 31 73");
});

Deno.test("SortDescriptor DESCENDING is the enum value -1", () => {
  const bytes = toBinary(
    SortDescriptorSchema,
    create(SortDescriptorSchema, { columnName: "A", direction: SortDescriptor_SortDirection.DESCENDING }),
  );
  // direction = 3 as a plain int32 enum: -1 is a 10-byte varint.
  assert.equal(hex(bytes), "0a 01 41 18 ff ff ff ff ff ff ff ff ff 01");
});

Deno.test("ConfigValue.string_value is field 3", () => {
  const bytes = toBinary(
    ConfigValueSchema,
    create(ConfigValueSchema, { kind: { case: "stringValue", value: "x" } }),
  );
  assert.equal(hex(bytes), "1a 01 78");
});

Deno.test("Batch operations use Deephaven's oneof numbers", () => {
  const cases: Array<[BatchOp, number]> = [
    [{ case: "emptyTable", value: create(EmptyTableRequestSchema) }, 1],
    [{ case: "timeTable", value: create(TimeTableRequestSchema) }, 2],
    [{ case: "update", value: {} }, 4],
    [{ case: "unstructuredFilter", value: {} }, 11],
    [{ case: "flatten", value: {} }, 21],
    [{ case: "naturalJoin", value: {} }, 24],
    [{ case: "fetchTable", value: {} }, 28],
    [{ case: "aggregateAll", value: {} }, 34],
    [{ case: "aggregate", value: {} }, 35],
    [{ case: "aj", value: {} }, 40],
    [{ case: "slice", value: {} }, 44],
  ];
  for (const [op, field] of cases) {
    const bytes = toBinary(
      BatchTableRequest_OperationSchema,
      create(BatchTableRequest_OperationSchema, { op }),
    );
    const tag = (field << 3) | 2;
    const expected = tag < 0x80 ? [tag, 0] : [(tag & 0x7f) | 0x80, tag >> 7, 0];
    assert.deepEqual(Array.from(bytes), expected, `op ${op.case} must be field ${field}`);
  }
  const batch = toBinary(
    BatchTableRequestSchema,
    create(BatchTableRequestSchema, { ops: [{ op: { case: "emptyTable", value: { size: 1n } } }] }),
  );
  assert.equal(hex(batch), "0a 04 0a 02 10 02");
});

Deno.test("ExportedTableCreationResponse decodes sint64 size as a bigint", () => {
  // result_id{ticket{e(1)}}, success = true, is_static = true, size = 6 with zig-zag(Long.MIN_VALUE).
  const wire = toBinary(
    ExportedTableCreationResponseSchema,
    create(ExportedTableCreationResponseSchema, {
      resultId: { ref: { case: "ticket", value: { ticket: exportTicket(1) } } },
      success: true,
      isStatic: true,
      size: -(2n ** 63n),
    }),
  );
  assert.deepEqual(Array.from(wire.slice(-11)), [
    0x30,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0x01,
  ]);
  const decoded = fromBinary(ExportedTableCreationResponseSchema, wire);
  assert.equal(decoded.size, -(2n ** 63n));
  assert.equal(decoded.success, true);
  assert.equal(decoded.resultId?.ref.case, "ticket");
});

Deno.test("FlightData.data_body is field 1000 (tag bytes 0xC2 0x3E)", () => {
  const bytes = toBinary(
    FlightDataSchema,
    create(FlightDataSchema, {
      dataHeader: new Uint8Array([1]),
      appMetadata: new Uint8Array([2]),
      dataBody: new Uint8Array([3, 4]),
    }),
  );
  assert.equal(hex(bytes), "12 01 01 1a 01 02 c2 3e 02 03 04");
  const decoded = fromBinary(FlightDataSchema, bytes);
  assert.deepEqual(decoded.dataBody, new Uint8Array([3, 4]));
  assert.deepEqual(decoded.appMetadata, new Uint8Array([2]));
});

Deno.test("service descriptors carry the gRPC paths and streaming kinds", () => {
  const path = (service: { typeName: string }, method: { name: string }) =>
    `/${service.typeName}/${method.name}`;
  assert.equal(
    path(TableService, TableService.method.emptyTable),
    "/io.deephaven.proto.backplane.grpc.TableService/EmptyTable",
  );
  assert.equal(TableService.method.batch.methodKind, "server_streaming");
  assert.equal(TableService.method.getExportedTableCreationResponse.input, TicketSchema);
  assert.equal(
    path(SessionService, SessionService.method.publishFromTicket),
    "/io.deephaven.proto.backplane.grpc.SessionService/PublishFromTicket",
  );
  assert.equal(
    path(ConsoleService, ConsoleService.method.executeCommand),
    "/io.deephaven.proto.backplane.script.grpc.ConsoleService/ExecuteCommand",
  );
  assert.equal(
    path(FlightService, FlightService.method.doExchange),
    "/arrow.flight.protocol.FlightService/DoExchange",
  );
  assert.equal(FlightService.method.doExchange.methodKind, "bidi_streaming");
  assert.equal(FlightService.method.doGet.methodKind, "server_streaming");
  assert.equal(FlightService.method.doGet.output, FlightDataSchema);
});

const MAGIC = 0x6e687064;

Deno.test("BarrageMessageWrapper with a BarrageSubscriptionRequest round-trips", () => {
  const ticket = exportTicket(7);

  // Inner payload: a separately finished BarrageSubscriptionRequest.
  const inner = new flatbuffers.Builder(128);
  const ticketOffset = inner.createByteVector(ticket);
  const options = BarrageSubscriptionOptions.createBarrageSubscriptionOptions(
    inner,
    true,
    250,
    4096,
    0,
    false,
    0n,
  );
  BarrageSubscriptionRequest.startBarrageSubscriptionRequest(inner);
  BarrageSubscriptionRequest.addTicket(inner, ticketOffset);
  BarrageSubscriptionRequest.addSubscriptionOptions(inner, options);
  inner.finish(BarrageSubscriptionRequest.endBarrageSubscriptionRequest(inner));
  const payload = inner.asUint8Array();

  // Wrapper.
  const outer = new flatbuffers.Builder(256);
  const payloadOffset = outer.createByteVector(payload);
  outer.finish(
    BarrageMessageWrapper.createBarrageMessageWrapper(
      outer,
      MAGIC,
      BarrageMessageType.BarrageSubscriptionRequest,
      payloadOffset,
    ),
  );
  const bytes = outer.asUint8Array();

  // The magic is stored little-endian, so the ASCII bytes "dphn" appear in the buffer.
  assert.ok(hex(bytes).includes("64 70 68 6e"), "the wrapper bytes must contain 'dphn'");

  const wrapper = BarrageMessageWrapper.getRootAsBarrageMessageWrapper(new flatbuffers.ByteBuffer(bytes));
  assert.equal(wrapper.magic(), MAGIC);
  assert.equal(wrapper.msgType(), BarrageMessageType.BarrageSubscriptionRequest);
  assert.equal(wrapper.msgType(), 5);

  const raw = wrapper.msgPayloadArray();
  assert.ok(raw !== null);
  const innerBytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  assert.deepEqual(innerBytes, payload);

  const request = BarrageSubscriptionRequest.getRootAsBarrageSubscriptionRequest(
    new flatbuffers.ByteBuffer(innerBytes),
  );
  const readTicket = request.ticketArray();
  assert.ok(readTicket !== null);
  assert.deepEqual(new Uint8Array(readTicket.buffer, readTicket.byteOffset, readTicket.byteLength), ticket);
  assert.equal(request.columnsLength(), 0);
  assert.equal(request.viewportArray(), null);
  const readOptions = request.subscriptionOptions();
  assert.ok(readOptions !== null);
  assert.equal(readOptions.useDeephavenNulls(), true);
  assert.equal(readOptions.minUpdateIntervalMs(), 250);
  assert.equal(readOptions.batchSize(), 4096);
  assert.equal(readOptions.maxMessageSize(), 0);
  assert.equal(readOptions.columnsAsList(), false);
  assert.equal(readOptions.previewListLengthLimit(), 0n);
});

Deno.test("BarrageSubscriptionOptions keeps slot 0 for the deprecated column_conversion_mode", () => {
  const b = new flatbuffers.Builder(64);
  BarrageSubscriptionOptions.startBarrageSubscriptionOptions(b);
  BarrageSubscriptionOptions.addUseDeephavenNulls(b, true);
  b.finish(BarrageSubscriptionOptions.endBarrageSubscriptionOptions(b));
  const bb = new flatbuffers.ByteBuffer(b.asUint8Array());
  const table = bb.readInt32(bb.position()) + bb.position();
  assert.equal(bb.__offset(table, 4), 0, "slot 0 (column_conversion_mode) must be absent");
  assert.notEqual(bb.__offset(table, 6), 0, "use_deephaven_nulls must be slot 1");
});

Deno.test("BarrageUpdateMetadata fields read back in id order", () => {
  const b = new flatbuffers.Builder(128);
  const added = b.createByteVector(new Uint8Array([0x08 | 0x04, 5, 0x20]));
  BarrageUpdateMetadata.startBarrageUpdateMetadata(b);
  BarrageUpdateMetadata.addFirstSeq(b, 10n);
  BarrageUpdateMetadata.addLastSeq(b, 12n);
  BarrageUpdateMetadata.addIsSnapshot(b, true);
  BarrageUpdateMetadata.addAddedRows(b, added);
  BarrageUpdateMetadata.addTableSize(b, 42n);
  b.finish(BarrageUpdateMetadata.endBarrageUpdateMetadata(b));
  const bb = new flatbuffers.ByteBuffer(b.asUint8Array());
  const meta = BarrageUpdateMetadata.getRootAsBarrageUpdateMetadata(bb);
  assert.equal(meta.firstSeq(), 10n);
  assert.equal(meta.lastSeq(), 12n);
  assert.equal(meta.isSnapshot(), true);
  assert.equal(meta.tableSize(), 42n);
  assert.equal(meta.addedRowsLength(), 3);
  assert.equal(meta.removedRowsLength(), 0);
  assert.equal(meta.modColumnNodesLength(), 0);
  const table = bb.readInt32(bb.position()) + bb.position();
  assert.notEqual(bb.__offset(table, 4 + 2 * 6), 0, "added_rows must be field id 6");
  assert.notEqual(bb.__offset(table, 4 + 2 * 11), 0, "table_size must be field id 11");
});
