# A snapshot's file for partition i of one co-location group: how far each
# of its datasets got at the cut, with the control state every worker needs
# to go on from there. Each dataset's bytes are a file of their own (so an
# unchanged one can be the previous snapshot's, hard-linked). On disk both
# follow a small header (see snapshot.cpp).
@0xf0e494acd1f621e7;

$import "/capnp/c++.capnp".namespace("canary::snap");

struct PartitionFile {
  job @0 :Text;
  snapshot @1 :UInt32;      # the cut's number: the k-th of the run
  cutSeq @2 :UInt64;        # the first stage instance after the cut
  signalCount @3 :UInt64;   # signal instances before the cut
  signals @4 :Data;         # their values, bit i (least significant first) for the i-th
  group @5 :UInt32;
  partition @6 :UInt32;
  datasets @7 :List(Dataset);
}

struct Dataset {
  dataset @0 :UInt32;
  accesses @1 :UInt64;  # completed accesses: the stage instances it has been through
  size @2 :UInt64;      # of its bytes' file
  crc @3 :UInt32;       # of those bytes
}
