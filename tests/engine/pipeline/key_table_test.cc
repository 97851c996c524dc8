// Tests for vigil/engine/key_table.h (KeyTable): interning key tuples (same
// tuple -> same id, distinct tuples -> distinct ids), the owning shard as a
// hash of the tag values (independent of tag ids, insertion order and table
// instance), dense per-shard slots, multi-tag keys, and a reader thread
// reading entries while the router thread keeps interning; the limits
// (engine.max_key_tuples, engine.max_tag_values) on the table and on
// TagInterner.
#include "vigil/engine/key_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace vigil {
namespace {

// Interns `values` as tags, then the key made of them.
KeyId InternKey(KeyTable& table, TagInterner& tags, uint32_t keylist, const std::vector<std::string>& values) {
  std::vector<uint32_t> ids;
  for (const auto& v : values) ids.push_back(tags.Intern(v));
  return table.Intern(keylist, ids.data(), ids.size(), tags);
}

TEST(KeyTableTest, SameTupleSameIdDistinctTuplesDistinctIds) {
  KeyTable table(4);
  TagInterner tags;
  const KeyId nord = InternKey(table, tags, 0, {"nord"});
  const KeyId sud = InternKey(table, tags, 0, {"sud"});
  EXPECT_NE(nord, kNoKey);
  EXPECT_NE(sud, kNoKey);
  EXPECT_NE(nord, sud);
  EXPECT_EQ(InternKey(table, tags, 0, {"nord"}), nord);
  EXPECT_EQ(InternKey(table, tags, 0, {"sud"}), sud);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(nord, 1u);  // ids start at 1: 0 is kNoKey
  EXPECT_EQ(sud, 2u);
}

TEST(KeyTableTest, GetReturnsTheTuple) {
  KeyTable table(3);
  TagInterner tags;
  const KeyId id = InternKey(table, tags, 2, {"nord", "t1"});
  const KeyInfo& info = table.Get(id);
  EXPECT_EQ(info.keylist, 2u);
  EXPECT_EQ(info.values, (std::vector<std::string>{"nord", "t1"}));
  EXPECT_EQ(info.hash, KeyTable::HashValues({"nord", "t1"}));
  // The shard follows the last (finest) tag only.
  EXPECT_EQ(info.shard, KeyTable::HashValues({"t1"}) % 3);
}

TEST(KeyTableTest, MultiTagKeyLivesWithItsLastTag) {
  KeyTable table(4);
  TagInterner tags;
  for (int i = 0; i < 200; ++i) {
    const std::string device = "d-" + std::to_string(i);
    const KeyId fine = InternKey(table, tags, 0, {device});
    const KeyId both = InternKey(table, tags, 1, {"zone" + std::to_string(i % 3), device});
    ASSERT_EQ(table.Get(fine).shard, table.Get(both).shard) << device;
  }
}

TEST(KeyTableTest, SameValuesInAnotherKeyListIsAnotherKey) {
  KeyTable table(4);
  TagInterner tags;
  const KeyId a = InternKey(table, tags, 0, {"nord"});
  const KeyId b = InternKey(table, tags, 1, {"nord"});
  const KeyId c = InternKey(table, tags, 2, {"nord", "t1"});
  const KeyId d = InternKey(table, tags, 3, {"nord", "t1"});
  EXPECT_NE(a, b);
  EXPECT_NE(c, d);
  EXPECT_EQ(table.Get(b).keylist, 1u);
  EXPECT_EQ(table.Get(d).keylist, 3u);
  // The shard depends on the values only, so every rule keyed by zone sees
  // zone "nord" on the same shard.
  EXPECT_EQ(table.Get(a).shard, table.Get(b).shard);
  EXPECT_EQ(table.Get(c).shard, table.Get(d).shard);
  EXPECT_EQ(InternKey(table, tags, 1, {"nord"}), b);
  EXPECT_EQ(InternKey(table, tags, 3, {"nord", "t1"}), d);
}

TEST(KeyTableTest, MultiTagKeys) {
  KeyTable table(8);
  TagInterner tags;
  const KeyId a = InternKey(table, tags, 0, {"nord", "t1"});
  const KeyId b = InternKey(table, tags, 0, {"nord", "t2"});
  const KeyId c = InternKey(table, tags, 0, {"t1", "nord"});  // order matters
  const KeyId d = InternKey(table, tags, 0, {"sud", "t1"});
  const std::set<KeyId> distinct = {a, b, c, d};
  EXPECT_EQ(distinct.size(), 4u);
  EXPECT_EQ(distinct.count(kNoKey), 0u);
  EXPECT_EQ(InternKey(table, tags, 0, {"nord", "t1"}), a);
  EXPECT_EQ(InternKey(table, tags, 0, {"t1", "nord"}), c);
  EXPECT_EQ(table.Get(c).values, (std::vector<std::string>{"t1", "nord"}));
  const KeyId three = InternKey(table, tags, 1, {"nord", "t1", "x"});
  EXPECT_EQ(InternKey(table, tags, 1, {"nord", "t1", "x"}), three);
  EXPECT_EQ(table.Get(three).values.size(), 3u);
  const KeyId eight = InternKey(table, tags, 2, {"a", "b", "c", "d", "e", "f", "g", "h"});
  EXPECT_NE(eight, kNoKey);
  EXPECT_EQ(InternKey(table, tags, 2, {"a", "b", "c", "d", "e", "f", "g", "h"}), eight);
  EXPECT_EQ(table.size(), 6u);
}

TEST(KeyTableTest, ManyKeysStayDistinctAndFindable) {
  // Enough keys to grow every index several times.
  KeyTable table(5);
  TagInterner tags;
  constexpr int kKeys = 20000;
  std::vector<KeyId> single(kKeys), multi(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    single[i] = InternKey(table, tags, 0, {"s" + std::to_string(i)});
    multi[i] = InternKey(table, tags, 1, {"z" + std::to_string(i % 97), "s" + std::to_string(i)});
  }
  std::set<KeyId> all(single.begin(), single.end());
  all.insert(multi.begin(), multi.end());
  EXPECT_EQ(all.size(), 2u * kKeys);
  EXPECT_EQ(all.count(kNoKey), 0u);
  EXPECT_EQ(table.size(), 2u * kKeys);
  for (int i = kKeys - 1; i >= 0; --i) {
    ASSERT_EQ(InternKey(table, tags, 0, {"s" + std::to_string(i)}), single[i]) << i;
    ASSERT_EQ(InternKey(table, tags, 1, {"z" + std::to_string(i % 97), "s" + std::to_string(i)}), multi[i]) << i;
    ASSERT_EQ(table.Get(multi[i]).values[1], "s" + std::to_string(i));
  }
  EXPECT_EQ(table.size(), 2u * kKeys);
}

TEST(KeyTableTest, ShardIsHashModShards) {
  for (uint32_t shards : {1u, 2u, 3u, 4u, 7u, 64u}) {
    KeyTable table(shards);
    TagInterner tags;
    std::set<uint32_t> used;
    for (int i = 0; i < 1000; ++i) {
      const std::vector<std::string> values = {"zone" + std::to_string(i)};
      const KeyInfo& info = table.Get(InternKey(table, tags, 0, values));
      ASSERT_EQ(info.hash, KeyTable::HashValues(values));
      ASSERT_EQ(info.shard, KeyTable::HashValues(values) % shards);
      used.insert(info.shard);
    }
    EXPECT_EQ(used.size(), shards) << "1000 keys should reach every one of " << shards << " shards";
  }
  KeyTable zero(0);  // 0 shards means 1
  TagInterner tags;
  EXPECT_EQ(zero.shards(), 1u);
  EXPECT_EQ(zero.Get(InternKey(zero, tags, 0, {"nord"})).shard, 0u);
}

TEST(KeyTableTest, ShardStableAcrossInstancesAndInsertionOrders) {
  std::vector<std::vector<std::string>> keys;
  for (int i = 0; i < 200; ++i) keys.push_back({"zone" + std::to_string(i % 13), "sensor" + std::to_string(i)});

  KeyTable forward(4);
  TagInterner forward_tags;
  for (const auto& k : keys) InternKey(forward, forward_tags, 0, k);

  // Another table and interner, keys in reverse order and with other strings
  // interned first, so every tag id differs.
  KeyTable backward(4);
  TagInterner backward_tags;
  for (int i = 0; i < 50; ++i) backward_tags.Intern("noise" + std::to_string(i));
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) InternKey(backward, backward_tags, 0, *it);

  for (const auto& k : keys) {
    const KeyInfo& a = forward.Get(InternKey(forward, forward_tags, 0, k));
    const KeyInfo& b = backward.Get(InternKey(backward, backward_tags, 0, k));
    ASSERT_EQ(a.values, b.values);
    EXPECT_EQ(a.hash, b.hash) << k[0] << "," << k[1];
    EXPECT_EQ(a.shard, b.shard) << k[0] << "," << k[1];
  }
}

TEST(KeyTableTest, HashSeparatesValues) {
  EXPECT_NE(KeyTable::HashValues({"ab", "c"}), KeyTable::HashValues({"a", "bc"}));
  EXPECT_NE(KeyTable::HashValues({"ab"}), KeyTable::HashValues({"a", "b"}));
  EXPECT_NE(KeyTable::HashValues({"a", "b"}), KeyTable::HashValues({"b", "a"}));
  EXPECT_NE(KeyTable::HashValues({""}), KeyTable::HashValues({}));
  // A fixed function of the values: the shard of a key survives restarts.
  EXPECT_EQ(KeyTable::HashValues({"nord", "t1"}), KeyTable::HashValues({"nord", "t1"}));
}

TEST(KeyTableTest, SlotsAreDensePerKeyListAndShard) {
  KeyTable table(3);
  TagInterner tags;
  // [keylist][shard] -> slots handed out, in order.
  std::vector<std::vector<std::vector<uint32_t>>> slots(2, std::vector<std::vector<uint32_t>>(3));
  for (int i = 0; i < 300; ++i) {
    const uint32_t keylist = static_cast<uint32_t>(i % 2);
    const KeyId id = keylist == 0 ? InternKey(table, tags, 0, {"k" + std::to_string(i)})
                                  : InternKey(table, tags, 1, {"k" + std::to_string(i), "x"});
    const KeyInfo& info = table.Get(id);
    slots[keylist][info.shard].push_back(info.slot);
    // Interning again does not hand out another slot.
    const KeyId again = keylist == 0 ? InternKey(table, tags, 0, {"k" + std::to_string(i)})
                                     : InternKey(table, tags, 1, {"k" + std::to_string(i), "x"});
    ASSERT_EQ(again, id);
  }
  for (uint32_t keylist = 0; keylist < 2; ++keylist) {
    for (uint32_t shard = 0; shard < 3; ++shard) {
      const auto& s = slots[keylist][shard];
      for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s[i], i) << "keylist " << keylist << " shard " << shard;
    }
  }
}

TEST(KeyTableTest, ReaderThreadReadsPublishedEntries) {
  // The router interns and publishes each id (release); a reader thread
  // acquires it and reads the entry while later keys are being appended.
  KeyTable table(4);
  TagInterner tags;
  constexpr uint32_t kKeys = 100000;
  std::atomic<uint32_t> published{0};
  std::atomic<bool> reader_ok{true};
  std::thread reader([&] {
    uint32_t seen = 0;
    while (seen < kKeys) {
      const uint32_t upto = published.load(std::memory_order_acquire);
      for (; seen < upto; ++seen) {
        const KeyInfo& info = table.Get(seen + 1);
        const std::string expected = "key" + std::to_string(seen);
        if (info.values.size() != 2 || info.values[1] != expected ||
            info.shard != KeyTable::HashValues({expected}) % 4) {
          reader_ok.store(false);
        }
      }
    }
  });
  for (uint32_t i = 0; i < kKeys; ++i) {
    const KeyId id = InternKey(table, tags, 0, {"z" + std::to_string(i % 7), "key" + std::to_string(i)});
    EXPECT_EQ(id, i + 1);  // not ASSERT: the reader waits for every key
    published.store(i + 1, std::memory_order_release);
  }
  reader.join();
  EXPECT_TRUE(reader_ok.load());
}

// engine.max_key_tuples: beyond the limit a new key (single- or multi-tag)
// is refused and counted at every attempt; keys made before keep their ids.
TEST(KeyTableTest, LimitRefusesNewKeysKeepsOldOnesAndCountsRefusals) {
  KeyTable table(2);
  TagInterner tags;
  const KeyId a = InternKey(table, tags, 0, {"a"});
  const KeyId za = InternKey(table, tags, 1, {"z", "a"});
  table.set_limit(3);
  const KeyId b = InternKey(table, tags, 0, {"b"});
  ASSERT_NE(b, kNoKey);
  EXPECT_EQ(InternKey(table, tags, 0, {"c"}), kNoKey);
  EXPECT_EQ(InternKey(table, tags, 1, {"z", "b"}), kNoKey);
  EXPECT_EQ(InternKey(table, tags, 0, {"c"}), kNoKey);  // counted again: a message each
  EXPECT_EQ(table.refused(), 3u);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(InternKey(table, tags, 0, {"a"}), a);
  EXPECT_EQ(InternKey(table, tags, 1, {"z", "a"}), za);
  EXPECT_EQ(InternKey(table, tags, 0, {"b"}), b);
  EXPECT_EQ(table.refused(), 3u);
  table.set_limit(1);  // below what it holds: nothing is dropped, nothing new comes in
  EXPECT_EQ(InternKey(table, tags, 0, {"a"}), a);
  EXPECT_EQ(InternKey(table, tags, 0, {"d"}), kNoKey);
  table.set_limit(0);  // no limit
  EXPECT_NE(InternKey(table, tags, 0, {"d"}), kNoKey);
  EXPECT_EQ(table.refused(), 4u);
}

// engine.max_tag_values: beyond the limit a new string is interned as 0
// ("absent") and counted; strings interned before keep their ids.
TEST(TagInternerTest, LimitRefusesNewStringsKeepsOldOnes) {
  TagInterner tags;
  const uint32_t nord = tags.Intern("nord");
  tags.set_limit(2);
  const uint32_t sud = tags.Intern("sud");
  ASSERT_NE(sud, 0u);
  EXPECT_EQ(tags.Intern("est"), 0u);
  EXPECT_EQ(tags.Intern("a-long-value-beyond-the-16-byte-prefix"), 0u);
  EXPECT_EQ(tags.Find("est"), 0u);
  EXPECT_EQ(tags.refused(), 2u);
  EXPECT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags.Intern("nord"), nord);
  EXPECT_EQ(tags.Intern("sud"), sud);
  EXPECT_EQ(tags.refused(), 2u);
  tags.set_limit(0);
  EXPECT_NE(tags.Intern("est"), 0u);
  EXPECT_EQ(tags.Get(tags.Find("est")), "est");
}

}  // namespace
}  // namespace vigil
