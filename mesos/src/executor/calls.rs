//! The executor's calls, one function each.
//!
//! Every call names the framework and the executor: the agent finds the
//! executor by the pair (`Http::executor` in `src/slave/http.cpp`), and
//! refuses a call without them (`validateExecutorCall`,
//! `src/common/validation.cpp`).

use bytes::Bytes;

use crate::v1::{
    ExecutorId, FrameworkId, TaskInfo, TaskStatus,
    executor::{Call, call},
};

/// Who sends the calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub framework_id: FrameworkId,
    pub executor_id: ExecutorId,
}

impl Caller {
    fn call(&self, r#type: call::Type) -> Call {
        Call {
            executor_id: self.executor_id.clone(),
            framework_id: self.framework_id.clone(),
            r#type: Some(r#type as i32),
            ..Default::default()
        }
    }

    /// SUBSCRIBE, carrying what the agent may not know yet: the updates it
    /// has not acknowledged, and the tasks it launched on this executor
    /// that no acknowledged update mentions. An agent that restarted (or
    /// whose message was lost) learns them from here: it re-sends the
    /// updates to the scheduler, and fails tasks it had launched but that
    /// the executor never heard of (`Slave::subscribe`,
    /// `src/slave/slave.cpp`).
    pub fn subscribe(&self, tasks: Vec<TaskInfo>, updates: Vec<call::Update>) -> Call {
        Call {
            subscribe: Some(call::Subscribe {
                unacknowledged_tasks: tasks,
                unacknowledged_updates: updates,
            }),
            ..self.call(call::Type::Subscribe)
        }
    }

    /// UPDATE of a task's status (already filled in: see
    /// [`super::status::fill_in`]).
    pub fn update(&self, status: TaskStatus) -> Call {
        Call {
            update: Some(call::Update { status }),
            ..self.call(call::Type::Update)
        }
    }

    /// MESSAGE: data for the scheduler, best effort (never retried).
    pub fn message(&self, data: Bytes) -> Call {
        Call {
            message: Some(call::Message { data }),
            ..self.call(call::Type::Message)
        }
    }

    /// HEARTBEAT: keeps idle connections open through proxies and NATs.
    pub fn heartbeat(&self) -> Call {
        self.call(call::Type::Heartbeat)
    }
}
