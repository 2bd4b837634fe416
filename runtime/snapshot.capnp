# A snapshot file: partition i of every dataset of one co-location group, as
# it was at a snapshot's cut, with the control state every worker needs to
# go on from there. On disk it follows a small header (see snapshot.cpp).
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
  bytes @2 :Data;       # the serialized partition
}
