// The consumer's part in canvases: what a finished step hands on (a task,
// a group or a chord), a chord header task's outcome joined to its chord
// in the same step as its own result, the chord completed by the member
// that completes the count, and a failed task's later chain steps failed
// as Celery's mark_as_failure does.
//
// In a write batch (worker/consumer_writes.cpp) chord sizes go first, then
// the publishes, then each joining member, then results and acks: a
// header member's message is acked only once its join is in Redis, so a
// child dying before that runs it again, and its second run replaces its
// own member instead of counting twice (lib/broker/chord_store.hpp).

#include "worker/consumer.hpp"

#include "broker/chord_store.hpp"
#include "celery/chord_join.hpp"
#include "celery/message_codec.hpp"
#include "celery/py_repr.hpp"
#include "celery/result_meta.hpp"
#include "util/log.hpp"

#include "worker/consumer_support.hpp"

namespace celeriac::worker {

namespace {

// TaskRevokedError(reason), as a revoked task's result holds it.
json::value revoked_exception(std::string_view reason) { return celery::revoked_meta({}, reason).result; }

std::string body_name(const json::value& body) {
  const json::value* task = body.is_object() ? body.find("task") : nullptr;
  return task && task->is_string() ? task->as_string() : std::string("?");
}

}  // namespace

broker::chord_store& consumer::chords() {
  if (!chords_)
    chords_ =
        std::make_unique<broker::chord_store>(backend_conn_ ? *backend_conn_ : broker_conn_, settings_.result_expires);
  return *chords_;
}

void consumer::add_publication(celery::canvas_publication p) {
  for (auto& g : p.saved_groups)
    writes_.chord_values.emplace_back(celery::chord_keys_for(g.group_id).saved, std::move(g.value));
  for (const auto& s : p.chord_sizes)
    writes_.chord_values.emplace_back(celery::chord_keys_for(s.group_id).size, std::to_string(s.size));
  for (auto& m : p.messages) add_publish(std::move(m));
}

std::optional<celery::chord_part> consumer::chord_part_for(const held_message& h, const outcome& o) const {
  const celery::task_message& m = h.message;
  if (m.embed.chord.is_null()) return std::nullopt;
  if (o.terminated) return celery::chord_part_of(m, "REVOKED", revoked_exception("terminated"));
  switch (o.what) {
    case outcome::kind::success:
      return celery::chord_part_of(m, "SUCCESS", o.result);
    case outcome::kind::failure:
      return celery::chord_part_of(m, "FAILURE", failure_meta_of(m.headers.id, o, std::nullopt, {}).result);
    case outcome::kind::retry:  // Celery joins only final states
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<celery::chord_part> consumer::chord_part_revoked(const held_message& h, std::string_view reason) const {
  return celery::chord_part_of(h.message, "REVOKED", revoked_exception(reason));
}

std::string consumer::join_chord(const held_message& h, std::optional<celery::chord_part> part, std::string meta) {
  if (!part) return meta;
  std::optional<broker::result_write> own;
  if (!meta.empty()) own = broker::result_write{result_key(h.message.headers.id), std::move(meta)};
  writes_.chord_parts.push_back(
      chord_member_write{std::move(*part), std::move(own), {h.message.headers.id, h.message.root_id_or_id()}});
  return {};
}

void consumer::fail_unregistered_chord_member(const celery::task_message& m) {
  json::value exc = celery::failure_meta({}, "NotRegistered", m.headers.task, "celery.exceptions").result;
  if (auto part = celery::chord_part_of(m, "FAILURE", std::move(exc)))
    writes_.chord_parts.push_back(chord_member_write{std::move(*part), std::nullopt, {m.headers.id, m.root_id_or_id()}});
}

void consumer::fail_chain_steps(const held_message& h, const outcome& o) {
  const celery::task_message& m = h.message;
  if (!m.embed.chain.is_array() || m.embed.chain.as_array().empty()) return;
  const json::value exc = failure_meta_of(m.headers.id, o, std::nullopt, {}).result;
  const std::string traceback = traceback_text(m.headers.task, o.exc_type, o.message);
  for (auto& step : celery::chain_failures(m, exc)) {
    std::string meta;
    if (wants_result(h))
      meta = celery::encode_result_meta(failure_meta_of(step.task_id, o, traceback, std::move(step.context)));
    if (step.part) {
      std::optional<broker::result_write> own;
      if (!meta.empty()) own = broker::result_write{result_key(step.task_id), std::move(meta)};
      writes_.chord_parts.push_back(
          chord_member_write{std::move(*step.part), std::move(own), {m.headers.id, m.root_id_or_id()}});
    } else if (!meta.empty()) {
      add_result_json(step.task_id, std::move(meta));
    }
  }
}

awaitable<void> consumer::write_chord_values(const pending_writes& batch) {
  co_await chords().async_set_values(batch.chord_values);
}

awaitable<void> consumer::write_chord_parts(const pending_writes& batch, std::size_t& done) {
  while (done < batch.chord_parts.size()) {
    const chord_member_write& w = batch.chord_parts[done];
    const broker::chord_join_write join{celery::chord_keys_for(w.part.group_id), w.part.member(), w.part.score(),
                                        w.part.member_prefix(), w.meta};
    broker::chord_join_result joined = co_await chords().async_join(join);
    if (joined.state != broker::chord_join_result::status::pending) co_await complete_chord(w, std::move(joined));
    ++done;
  }
}

awaitable<celery::chord_outcome> consumer::chord_outcome_of(const broker::chord_join_result& joined) {
  if (joined.state == broker::chord_join_result::status::bad_size)
    co_return celery::chord_failed{fmt::format(
        "Join error: ValueError({})",
        celery::py_repr(json::value(fmt::format("invalid literal for int() with base 10: b{}",
                                                celery::py_repr(json::value(joined.size_text))))))};
  if (!joined.saved) co_return celery::chord_outcome_of(joined.members);
  // A header holding groups (GroupResult.save()): joined by structure,
  // from each task's own stored result.
  auto ids = celery::saved_group_task_ids(*joined.saved);
  if (!ids)
    co_return celery::chord_failed{
        fmt::format("Join error: ValueError({})", celery::py_repr(json::value(ids.error().message)))};
  std::vector<std::string> keys;
  for (const auto& id : *ids) keys.push_back(result_key(id));
  auto metas = co_await chords().async_read(keys);
  co_return celery::saved_group_outcome(*joined.saved, metas);
}

broker::chord_effects consumer::chord_effects_of(celery::chord_completion& done) {
  broker::chord_effects e;
  for (auto& g : done.publication.saved_groups)
    e.values.emplace_back(celery::chord_keys_for(g.group_id).saved, std::move(g.value));
  for (const auto& s : done.publication.chord_sizes)
    e.values.emplace_back(celery::chord_keys_for(s.group_id).size, std::to_string(s.size));
  for (const auto& f : done.failures) e.metas.push_back({result_key(f.task_id), celery::encode_result_meta(f)});
  for (const auto& m : done.publication.messages) {
    std::string why;
    auto q = broker::queue_name::make(m.properties.delivery_info.routing_key, &why);
    if (!q) {
      log::error("chord body task {}[{}] names queue '{}' ({}); sending it to '{}' instead", m.headers.task,
                 m.headers.id, m.properties.delivery_info.routing_key, why, celery::default_queue);
      q = broker::queue_name::make(celery::default_queue);
    }
    e.publishes.push_back({std::move(*q), static_cast<int>(m.properties.priority), celery::encode_message(m)});
  }
  return e;
}

awaitable<void> consumer::complete_chord(const chord_member_write& w, broker::chord_join_result joined) {
  const celery::chord_keys keys = celery::chord_keys_for(w.part.group_id);
  celery::chord_outcome outcome = co_await chord_outcome_of(joined);
  celery::chord_completion done = celery::complete_chord(w.part.body, std::move(outcome), w.completing);
  broker::chord_effects effects = chord_effects_of(done);
  bool completed_here = false;
  if (!backend_conn_) {
    // Results on the broker's Redis: the body goes out in the guarded step.
    completed_here = co_await chords().async_complete(keys, effects);
  } else {
    // Results elsewhere: the body is published first, then the keys are
    // dropped; a worker dying in between sends it again when its task runs
    // again (at-least-once, the same task id).
    const bool pending = co_await chords().async_pending(keys);
    if (pending) {
      co_await chords().async_set_values(effects.values);
      for (const auto& p : effects.publishes) co_await transport_.async_publish(p.queue, p.priority, p.envelope);
      effects.values.clear();
      effects.publishes.clear();
      completed_here = co_await chords().async_complete(keys, effects);
    }
  }
  if (!completed_here) {
    log::debug("chord {}: already completed by another worker", w.part.group_id);
    co_return;
  }
  if (done.error)
    log::error("Chord '{}' raised: ChordError({})", w.part.group_id, celery::py_repr(json::value(*done.error)));
  else
    log::info("Chord '{}' complete ({} results): sent {}", w.part.group_id, joined.members.size(),
              body_name(w.part.body));
}

}  // namespace celeriac::worker
