-- HEP3 (Homer Encapsulation Protocol v3) for tshark/Wireshark builds without one
-- (Debian 12's tshark 4.0 has none). Written for sipclient; usage:
--   tshark -X lua_script:scripts/wireshark/hep3.lua -d udp.port==9060,hep -r hep.pcap
-- Chunks (vendor 0): 1 family, 2 IP protocol, 3/4 IPv4 src/dst, 5/6 IPv6 src/dst, 7/8 ports,
-- 9/10 seconds/microseconds, 11 protocol type (1 SIP), 12 capture id, 14 auth key,
-- 15 payload, 17 correlation id. A SIP payload is handed to Wireshark's SIP dissector.

local hep = Proto("hep", "HEP3 (Homer Encapsulation Protocol)")
local F = hep.fields
F.version = ProtoField.string("hep.version", "Version")
F.length = ProtoField.uint16("hep.length", "Total length")
F.family = ProtoField.uint8("hep.ip_family", "IP family")
F.ip_proto = ProtoField.uint8("hep.ip_proto", "IP protocol")
F.src_ip = ProtoField.string("hep.src_ip", "Source address")
F.dst_ip = ProtoField.string("hep.dst_ip", "Destination address")
F.src_port = ProtoField.uint16("hep.src_port", "Source port")
F.dst_port = ProtoField.uint16("hep.dst_port", "Destination port")
F.ts_sec = ProtoField.uint32("hep.ts_sec", "Timestamp (s)")
F.ts_usec = ProtoField.uint32("hep.ts_usec", "Timestamp (us)")
F.proto_type = ProtoField.uint8("hep.proto_type", "Protocol type")
F.capture_id = ProtoField.uint32("hep.capture_id", "Capture agent id")
F.auth_key = ProtoField.string("hep.auth_key", "Authentication key")
F.correlation_id = ProtoField.string("hep.correlation_id", "Correlation id")
F.payload = ProtoField.bytes("hep.payload", "Payload")
F.payload_text = ProtoField.string("hep.payload_text", "Payload (text)")

local sip = Dissector.get("sip")

local function chunk(t, ctype, v)
  if ctype == 1 then t:add(F.family, v)
  elseif ctype == 2 then t:add(F.ip_proto, v)
  elseif ctype == 3 then t:add(F.src_ip, v, tostring(v:ipv4()))
  elseif ctype == 4 then t:add(F.dst_ip, v, tostring(v:ipv4()))
  elseif ctype == 5 then t:add(F.src_ip, v, tostring(v:ipv6()))
  elseif ctype == 6 then t:add(F.dst_ip, v, tostring(v:ipv6()))
  elseif ctype == 7 then t:add(F.src_port, v)
  elseif ctype == 8 then t:add(F.dst_port, v)
  elseif ctype == 9 then t:add(F.ts_sec, v)
  elseif ctype == 10 then t:add(F.ts_usec, v)
  elseif ctype == 11 then t:add(F.proto_type, v)
  elseif ctype == 12 then t:add(F.capture_id, v)
  elseif ctype == 14 then t:add(F.auth_key, v)
  elseif ctype == 17 then t:add(F.correlation_id, v)
  end
end

function hep.dissector(tvb, pinfo, tree)
  if tvb:len() < 6 or tvb(0, 4):string() ~= "HEP3" then return 0 end
  local total = tvb(4, 2):uint()
  if total > tvb:len() then return 0 end
  pinfo.cols.protocol = "HEP3"
  local t = tree:add(hep, tvb(0, total))
  t:add(F.version, tvb(0, 4))
  t:add(F.length, tvb(4, 2))
  local pos, ptype, payload = 6, nil, nil
  while pos + 6 <= total do
    local vendor, ctype, clen = tvb(pos, 2):uint(), tvb(pos + 2, 2):uint(), tvb(pos + 4, 2):uint()
    if clen < 6 or pos + clen > total then break end
    if vendor == 0 then
      if ctype == 15 then
        if clen > 6 then payload = tvb(pos + 6, clen - 6) end
      elseif clen > 6 then
        local v = tvb(pos + 6, clen - 6)
        if ctype == 11 then ptype = v:uint() end
        chunk(t, ctype, v)
      end
    end
    pos = pos + clen
  end
  if payload ~= nil then
    if ptype == 1 then
      sip:call(payload:tvb(), pinfo, tree)
    else
      t:add(F.payload, payload)
      t:add(F.payload_text, payload, payload:string())
    end
  end
  return total
end

DissectorTable.get("udp.port"):add_for_decode_as(hep)
DissectorTable.get("tcp.port"):add_for_decode_as(hep)
