#pragma once
constexpr int kBuckets = PARTS + 1;
